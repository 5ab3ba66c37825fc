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
    let usage = error.downcast_ref::<UsageError>().is_some()
        || error.chain().any(|cause| {
            cause.is::<UsageError>()
                || cause.is::<portcullis_policy::ConfigErrors>()
                || cause.is::<portcullis_sources::SourceError>()
        });
    if usage {
        exit::BAD_INPUT
    } else {
        exit::RUNTIME
    }
}
