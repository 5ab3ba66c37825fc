//! Which hooks a scan runs: `--hook` names, else the policy's `[scan] hooks` (none when
//! only report files are given), each resolved to a [`HookSpec`]. A `[[scan.hook]]` entry
//! wins over a built-in of the same name, with its own `format` and `timeout`.

use std::time::Duration;

use portcullis_policy::{ScanSettings, BUILTIN_HOOKS};

use crate::{HookSpec, SbomKind, ScanError};

/// The hooks to run.
///
/// `names` are the `--hook` names; when empty, the policy's `hooks` are used unless
/// `reports_given` (report files alone are a complete scan). `sbom` is the standard the
/// built-in `syft` writes; `timeout` overrides every hook's own timeout.
pub fn select_hooks(
    settings: &ScanSettings,
    names: &[String],
    reports_given: bool,
    sbom: SbomKind,
    timeout: Option<Duration>,
) -> Result<Vec<HookSpec>, ScanError> {
    let names: Vec<&str> = if !names.is_empty() {
        names.iter().map(String::as_str).collect()
    } else if reports_given {
        Vec::new()
    } else {
        settings.hooks.iter().map(|h| h.value.as_str()).collect()
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let mut spec = if let Some(custom) = settings.hook.iter().find(|h| h.name.value == name) {
            let mut spec = HookSpec::custom(
                name,
                custom.command.value.clone(),
                Some(custom.format.value),
            );
            if let Some(timeout) = &custom.timeout {
                spec.timeout = timeout.value;
            }
            spec
        } else if name == "syft" {
            HookSpec::syft(sbom)
        } else if let Some(spec) = HookSpec::builtin(name) {
            spec
        } else {
            return Err(ScanError::UnknownHook {
                name: name.to_owned(),
                known: BUILTIN_HOOKS
                    .iter()
                    .map(|b| (*b).to_owned())
                    .chain(settings.hook.iter().map(|h| h.name.value.clone()))
                    .collect(),
            });
        };
        if let Some(timeout) = timeout {
            spec.timeout = timeout;
        }
        out.push(spec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use portcullis_policy::{Config, HookCommand, HookSettings, ReportFormat, Spanned};

    use super::*;
    use crate::{Format, DEFAULT_TIMEOUT};

    const POLICY: &str = r#"
[scan]
hooks = ["trivy", "mine"]

[[scan.hook]]
name = "mine"
command = ["/opt/my tools/scan", "{image}"]
format = "cyclonedx-vex"
timeout = "45s"

[[scan.hook]]
name = "sbom"
command = "make-sbom {image}"
format = "cyclonedx-json"
"#;

    fn settings() -> ScanSettings {
        Config::parse("portcullis.toml", POLICY)
            .unwrap()
            .scan()
            .clone()
    }

    fn select(names: &[&str], reports: bool) -> Result<Vec<HookSpec>, ScanError> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        select_hooks(&settings(), &names, reports, SbomKind::CycloneDx, None)
    }

    fn names(hooks: &[HookSpec]) -> Vec<&str> {
        hooks.iter().map(|h| h.name.as_str()).collect()
    }

    #[test]
    fn policy_hooks_unless_names_or_reports_are_given() {
        assert_eq!(names(&select(&[], false).unwrap()), ["trivy", "mine"]);
        assert!(select(&[], true).unwrap().is_empty());
        assert_eq!(names(&select(&["grype"], true).unwrap()), ["grype"]);
    }

    #[test]
    fn custom_hooks_keep_their_command_format_and_timeout() {
        let hooks = select(&["mine", "sbom"], false).unwrap();
        assert_eq!(
            hooks[0].command,
            HookCommand::Argv(vec!["/opt/my tools/scan".into(), "{image}".into()])
        );
        assert_eq!(hooks[0].format, Some(Format::CyclonedxVex));
        assert_eq!(hooks[0].timeout, Duration::from_secs(45));
        // `cyclonedx-json` is the config's other spelling of the CycloneDX SBOM.
        assert_eq!(hooks[1].format, Some(Format::Cyclonedx));
        assert_eq!(
            hooks[1].command,
            HookCommand::Shell("make-sbom {image}".into())
        );
        assert_eq!(hooks[1].timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn a_custom_hook_wins_over_the_builtin_of_the_same_name() {
        let mut settings = settings();
        settings.hook.push(HookSettings {
            name: Spanned::unsited("trivy".to_owned()),
            command: Spanned::unsited(HookCommand::Shell("cat trivy.json".into())),
            format: Spanned::unsited(ReportFormat::TrivyJson),
            timeout: None,
            site: None,
        });
        let hooks = select_hooks(&settings, &[], false, SbomKind::CycloneDx, None).unwrap();
        assert_eq!(
            hooks[0].command,
            HookCommand::Shell("cat trivy.json".into())
        );
    }

    #[test]
    fn syft_writes_the_requested_standard_and_timeout_overrides_all() {
        let names = vec!["syft".to_owned(), "mine".to_owned()];
        let timeout = Some(Duration::from_secs(7));
        let hooks = select_hooks(&settings(), &names, false, SbomKind::Spdx, timeout).unwrap();
        assert_eq!(hooks[0].format, Some(Format::SpdxJson));
        assert!(
            matches!(&hooks[0].command, HookCommand::Argv(w) if w.contains(&"spdx-json".to_owned()))
        );
        assert!(hooks.iter().all(|h| h.timeout == Duration::from_secs(7)));
    }

    #[test]
    fn unknown_hook_is_an_error_naming_it_and_the_choices() {
        let err = select(&["trivy", "nope"], false).unwrap_err();
        assert!(
            matches!(&err, ScanError::UnknownHook { name, .. } if name == "nope"),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("`nope`") && text.contains("`grype`") && text.contains("`mine`"),
            "{text}"
        );
    }
}
