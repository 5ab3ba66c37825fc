//! Maps outcomes and errors to the documented exit codes:
//! 0 passed · 1 policy violations · 2 usage or configuration error · 3 runtime failure.

use std::io::IsTerminal as _;

use crate::args::ColorChoice;

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Violations,
    /// The command finished, but some input could not be read or parsed (exit 2).
    BadInput,
    /// The command finished, but a registry or other service failed for some items (exit 3).
    RuntimeFailure,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Self::Passed => 0,
            Self::Violations => 1,
            Self::BadInput => 2,
            Self::RuntimeFailure => 3,
        }
    }
}

/// A usage or input error (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code for an error that ended a command early.
pub fn classify(error: &anyhow::Error) -> u8 {
    if is_broken_pipe(error) {
        return 0;
    }
    if error.downcast_ref::<UsageError>().is_some()
        || error
            .downcast_ref::<portcullis_policy::ConfigErrors>()
            .is_some()
        || error
            .downcast_ref::<portcullis_sources::SourceError>()
            .is_some()
    {
        return 2;
    }
    for cause in error.chain() {
        if cause.is::<UsageError>()
            || cause.is::<portcullis_policy::ConfigErrors>()
            || cause.is::<portcullis_sources::SourceError>()
        {
            return 2;
        }
    }
    3
}

/// A closed stdout (`portcullis check | head`) is not an error.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Whether to color what goes to stdout.
pub fn stdout_color(choice: ColorChoice) -> bool {
    color(choice, std::io::stdout().is_terminal())
}

/// Whether to color what goes to stderr.
pub fn stderr_color(choice: ColorChoice) -> bool {
    color(choice, std::io::stderr().is_terminal())
}
