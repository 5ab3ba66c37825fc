//! `portcullis init`: writes the commented starter policy.

use std::io::Write as _;

use anyhow::Context as _;

use crate::args::InitArgs;
use crate::exit::{Outcome, UsageError};

pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    if args.path.exists() && !args.force {
        return Err(UsageError(format!(
            "`{}` already exists; pass `--force` to overwrite it",
            args.path.display()
        ))
        .into());
    }
    let text = portcullis_policy::Config::starter();
    crate::workspace::write_atomic(&args.path, text.as_bytes())
        .with_context(|| format!("cannot write `{}`", args.path.display()))?;
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "wrote `{}`; edit `[images] allow`, then run `portcullis check`",
        args.path.display()
    );
    Ok(Outcome::Passed)
}
