//! Maps errors that end a command early to the documented exit codes (a finished command's
//! code comes from its report): 2 usage or configuration error, 3 runtime failure.

use portcullis_policy::exit;

/// A usage or input error (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code for an error that ended a command early.
pub fn classify(error: &anyhow::Error) -> u8 {
    // `downcast_ref` also finds a `UsageError` attached as context; the chain holds sources.
    // A source file that cannot be written is a runtime failure (3); every other source
    // error is about the input (2).
    let usage = error.downcast_ref::<UsageError>().is_some()
        || error.chain().any(|cause| {
            cause.is::<UsageError>()
                || cause.is::<portcullis_policy::ConfigErrors>()
                || cause
                    .downcast_ref::<portcullis_sources::SourceError>()
                    .is_some_and(|e| !matches!(e, portcullis_sources::SourceError::Write { .. }))
        });
    if usage {
        exit::BAD_INPUT
    } else {
        exit::RUNTIME
    }
}

/// Leaves `value` to the operating system, which takes the whole address space back at
/// once when the process ends, instead of freeing it piece by piece. For the large values
/// of a run that is about to end: a monorepo's references and findings are tens of
/// thousands of small strings, and freeing them one by one costs a tenth of `check`.
pub fn left_at_exit<T>(value: T) {
    std::mem::forget(value);
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use portcullis_sources::SourceError;

    use super::*;

    fn io() -> std::io::Error {
        std::io::Error::other("disk full")
    }

    #[test]
    fn a_source_that_cannot_be_written_is_a_runtime_failure() {
        let write = anyhow::Error::new(SourceError::Write {
            path: PathBuf::from("Dockerfile"),
            source: io(),
        });
        assert_eq!(classify(&write), exit::RUNTIME);
        let read = anyhow::Error::new(SourceError::Read {
            path: PathBuf::from("Dockerfile"),
            source: io(),
        });
        assert_eq!(classify(&read), exit::BAD_INPUT);
        let usage = anyhow::Error::new(io()).context(UsageError("bad flag".into()));
        assert_eq!(classify(&usage), exit::BAD_INPUT);
        assert_eq!(classify(&anyhow::Error::new(io())), exit::RUNTIME);
    }
}
