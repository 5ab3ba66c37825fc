//! `portcullis init`: writes the commented starter policy.

use anyhow::Context as _;

use crate::args::{Global, InitArgs};
use crate::exit::UsageError;
use crate::output::Messages;

pub fn run(global: &Global, args: &InitArgs) -> anyhow::Result<u8> {
    if args.path.exists() && !args.force {
        return Err(UsageError(format!(
            "`{}` already exists; pass `--force` to overwrite it",
            args.path.display()
        ))
        .into());
    }
    let text = portcullis_policy::Config::starter();
    portcullis_sources::write_atomic(&args.path, text.as_bytes())
        .with_context(|| format!("cannot write `{}`", args.path.display()))?;
    Messages::new(global).note(&format!(
        "wrote `{}`; edit `[images] allow`, then run `portcullis check`",
        args.path.display()
    ));
    Ok(portcullis_policy::exit::PASSED)
}
