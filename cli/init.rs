//! `portcullis init`: writes the commented starter policy. It holds sections only for the
//! commands that exist (`SECTIONS`, checked by the tests, says which command reads each); a new command adds
//! its section to the starter and to that table.

use anyhow::Context as _;

use crate::args::{Global, InitArgs};
use crate::exit::UsageError;
use crate::output::Messages;

/// Each top-level section of the starter policy (its commented examples included) and the
/// commands that read it; the tests hold the starter and the command list to it.
#[cfg(test)]
const SECTIONS: &[(&str, &[&str])] = &[
    ("images", &["check"]),
    ("build", &["check", "pin"]),
    ("waiver", &["check", "scan"]),
    ("scan", &["scan"]),
    ("trust", &["verify", "check", "mirror", "promote"]),
    ("sign", &["sign", "attest", "promote"]),
    ("mirror", &["mirror", "check", "pin"]),
    ("promote", &["promote"]),
    ("stale", &["stale"]),
    ("registries", &["check", "pin"]),
];

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The top-level sections of a TOML text, headers of commented examples included
    /// (`# [[waiver]]`, `# [registries."host"]`).
    fn sections(text: &str) -> BTreeSet<String> {
        text.lines()
            .map(|line| line.trim_start_matches(['#', ' ']))
            .filter(|line| line.starts_with('['))
            .map(|header| {
                header
                    .trim_matches(['[', ']'])
                    .split(['.', ']'])
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn every_section_init_writes_is_read_by_an_existing_command() {
        let commands: BTreeSet<String> = <crate::args::Cli as clap::CommandFactory>::command()
            .get_subcommands()
            .map(|command| command.get_name().to_owned())
            .collect();
        let written = sections(portcullis_policy::Config::starter());
        let known: BTreeSet<String> = SECTIONS
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect();
        assert_eq!(
            written, known,
            "a section of starter.toml is missing from `SECTIONS`, or the other way round"
        );
        for (section, readers) in SECTIONS {
            assert!(!readers.is_empty(), "[{section}] is read by no command");
            for reader in *readers {
                assert!(
                    commands.contains(*reader),
                    "[{section}] names `{reader}`, which is no command of {commands:?}"
                );
            }
        }
    }

    #[test]
    fn sections_are_read_from_headers_and_commented_examples() {
        let text = "[images]\nallow = []\n# [[scan.hook]]\n# [registries.\"a.example:5000\"]\n# a [comment]\n";
        assert_eq!(
            sections(text),
            BTreeSet::from([
                "images".to_owned(),
                "scan".to_owned(),
                "registries".to_owned()
            ])
        );
    }
}
