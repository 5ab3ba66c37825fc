//! `portcullis.toml`: found by walking up, parsed with spans, validated completely (every
//! problem is reported at once, each at `file:line:col`), and exposed as typed settings
//! that the other crates read.

pub(crate) mod reader;
pub(crate) mod sections;
pub mod settings;
pub(crate) mod values;

use std::fmt;
use std::path::{Path, PathBuf};

use self::reader::{Reader, Section};
pub use self::settings::*;

/// The file name looked for by [`Config::find`].
pub const CONFIG_FILE_NAME: &str = "portcullis.toml";

/// The hidden spelling, accepted too (one directory may not hold both).
pub const HIDDEN_CONFIG_FILE_NAME: &str = ".portcullis.toml";

/// How reports name the embedded default policy.
pub const EMBEDDED_NAME: &str = "<embedded default>";

/// The policy that applies when no file is found.
const EMBEDDED_DEFAULT: &str = "[images]\nrequire-digest = true\ndeny-tags = [\"latest\"]\n";

/// The commented file `portcullis init` writes.
const STARTER: &str = include_str!("starter.toml");

/// Every problem found in a config file, collected before failing.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors {
    /// Sorted by position.
    pub errors: Vec<ConfigError>,
}

/// One config problem at `file:line:col` (line 0 when it concerns the whole file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Names the offending key or value in backticks.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

/// Where a config value is written, for the secondary label of a finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ConfigSite {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Byte range in the config file.
    pub span: std::ops::Range<usize>,
    /// What the label says, e.g. "`deny-tags` set here".
    pub label: String,
}

impl ConfigSite {
    /// The same site with another label.
    #[must_use]
    pub fn labelled(&self, label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            ..self.clone()
        }
    }
}

/// The loaded policy. Construct with [`Config::load`], [`Config::parse`] or
/// [`Config::embedded_default`].
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from; `None` for the embedded default.
    pub path: Option<PathBuf>,
    /// The source text (for diagnostics).
    pub source: String,
    /// How diagnostics name the file.
    name: String,
    settings: Settings,
}

impl Config {
    /// Reads and validates a file. Diagnostics name it as `path` is written.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let name = path.display().to_string().replace('\\', "/");
        Self::load_named(path, &name)
    }

    /// Reads and validates a file; diagnostics and waiver findings name it `name` (say, the
    /// path relative to the checked root, as report paths are).
    pub fn load_named(path: &Path, name: &str) -> Result<Self, ConfigErrors> {
        let whole_file = |message: String| ConfigErrors {
            errors: vec![ConfigError {
                file: name.to_owned(),
                line: 0,
                column: 0,
                message,
            }],
        };
        // Checked before reading: a FIFO would block, a device never end.
        match std::fs::metadata(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(whole_file(format!(
                    "config file `{}` does not exist",
                    path.display()
                )))
            }
            Ok(meta) if !meta.is_file() => {
                return Err(whole_file(format!(
                    "config file `{}` is not a regular file",
                    path.display()
                )))
            }
            _ => {}
        }
        let bytes = std::fs::read(path)
            .map_err(|error| whole_file(format!("cannot read `{}`: {error}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|error| {
            whole_file(format!(
                "`{name}` is not UTF-8 (invalid byte at offset {})",
                error.utf8_error().valid_up_to()
            ))
        })?;
        let mut config = Self::parse(name, &text)?;
        config.path = Some(path.to_owned());
        Ok(config)
    }

    /// Parses and validates text; `name` is used in error messages and finding locations.
    pub fn parse(name: &str, text: &str) -> Result<Self, ConfigErrors> {
        let settings = read(name, text, true)?;
        Ok(Self {
            path: Some(PathBuf::from(name)),
            source: text.to_owned(),
            name: name.to_owned(),
            settings,
        })
    }

    /// Require digests, deny `latest`, allow everything.
    #[must_use]
    pub fn embedded_default() -> Self {
        let settings = read(EMBEDDED_NAME, EMBEDDED_DEFAULT, false).unwrap_or_default();
        Self {
            path: None,
            source: EMBEDDED_DEFAULT.to_owned(),
            name: EMBEDDED_NAME.to_owned(),
            settings,
        }
    }

    /// Walks up from `start` (a file or a directory) looking for `portcullis.toml` (or
    /// `.portcullis.toml`); the closest one wins. A directory holding both is an error,
    /// since either choice would silently ignore the other.
    pub fn find(start: &Path) -> Result<Option<PathBuf>, ConfigErrors> {
        let start = std::path::absolute(start).unwrap_or_else(|_| start.to_owned());
        let first = if start.is_file() {
            match start.parent() {
                Some(parent) => parent,
                None => return Ok(None),
            }
        } else {
            &start
        };
        for dir in first.ancestors() {
            let plain = dir.join(CONFIG_FILE_NAME);
            let hidden = dir.join(HIDDEN_CONFIG_FILE_NAME);
            match (plain.is_file(), hidden.is_file()) {
                (true, true) => {
                    return Err(ConfigErrors {
                        errors: vec![ConfigError {
                            file: plain.display().to_string(),
                            line: 0,
                            column: 0,
                            message: format!(
                                "`{}` holds both `{CONFIG_FILE_NAME}` and `{HIDDEN_CONFIG_FILE_NAME}`; keep one",
                                dir.display()
                            ),
                        }],
                    })
                }
                (true, false) => return Ok(Some(plain)),
                (false, true) => return Ok(Some(hidden)),
                (false, false) => {}
            }
        }
        Ok(None)
    }

    /// Whether this is the embedded default (no file applied).
    #[must_use]
    pub fn is_embedded(&self) -> bool {
        self.path.is_none()
    }

    /// A path written in the policy (`ca-file`, `vex`), relative to the policy file's
    /// directory.
    #[must_use]
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        self.path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .join(path)
    }

    /// Whether a run over `checked` (absolute) sees the whole tree this policy governs: the
    /// policy file's directory is `checked` or below it. Only then can a waiver be called
    /// unused; `check services/web` under a root policy cannot know.
    #[must_use]
    pub fn covered_by(&self, checked: &[PathBuf]) -> bool {
        let Some(dir) = self.path.as_deref().and_then(Path::parent) else {
            return true;
        };
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
        checked
            .iter()
            .any(|path| path.is_dir() && dir.starts_with(path))
    }

    /// The commented starter file `portcullis init` writes (it passes validation).
    #[must_use]
    pub fn starter() -> &'static str {
        STARTER
    }

    /// The JSON schema of `portcullis.toml`, generated from the settings types.
    #[must_use]
    pub fn json_schema() -> serde_json::Value {
        let schema = schemars::schema_for!(Settings);
        serde_json::to_value(schema).unwrap_or(serde_json::Value::Null)
    }

    /// How diagnostics name the file (`<embedded default>` for the default).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Everything, typed.
    #[must_use]
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `[images]`.
    #[must_use]
    pub fn images(&self) -> &ImagesSettings {
        &self.settings.images
    }

    /// `[build]`.
    #[must_use]
    pub fn build(&self) -> &BuildSettings {
        &self.settings.build
    }

    /// `[[waiver]]` entries, in file order.
    #[must_use]
    pub fn waivers(&self) -> &[Waiver] {
        &self.settings.waiver
    }

    /// `[trust]`.
    #[must_use]
    pub fn trust(&self) -> &TrustSettings {
        &self.settings.trust
    }

    /// `[scan]`.
    #[must_use]
    pub fn scan(&self) -> &ScanSettings {
        &self.settings.scan
    }

    /// The policy with its `[scan]` gate overridden from the command line
    /// (`scan --fail-on`, `--only-fixed`); the flags win over the file.
    #[must_use]
    pub fn with_scan_gate(mut self, fail_on: Option<FailOn>, only_fixed: bool) -> Self {
        if let Some(fail_on) = fail_on {
            self.settings.scan.fail_on = Spanned::unsited(fail_on);
        }
        if only_fixed {
            self.settings.scan.only_fixed = Spanned::unsited(true);
        }
        self
    }

    /// `[sign]`.
    #[must_use]
    pub fn sign(&self) -> &SignSettings {
        &self.settings.sign
    }

    /// `[[mirror]]` entries, in file order.
    #[must_use]
    pub fn mirrors(&self) -> &[MirrorSettings] {
        &self.settings.mirror
    }

    /// The first `[[mirror]]` entry that covers `image`, and `image` on that mirror (same
    /// tag, same digest); see [`crate::families::mirrors`].
    #[must_use]
    pub fn mirror_for(
        &self,
        image: &portcullis_reference::ImageRef,
    ) -> Option<crate::families::mirrors::MirrorMatch<'_>> {
        crate::families::mirrors::mirror_for(self.mirrors(), image)
    }

    /// `[[promote]]` entries, in file order.
    #[must_use]
    pub fn promotions(&self) -> &[PromoteSettings] {
        &self.settings.promote
    }

    /// `[stale]`.
    #[must_use]
    pub fn stale(&self) -> &StaleSettings {
        &self.settings.stale
    }

    /// `[report]`.
    #[must_use]
    pub fn report(&self) -> &ReportSettings {
        &self.settings.report
    }

    /// `[registries."host:port"]`, by host.
    #[must_use]
    pub fn registries(&self) -> &std::collections::BTreeMap<String, RegistrySettings> {
        &self.settings.registries
    }
}

/// Parses the TOML and reads every section, collecting all errors.
fn read(name: &str, text: &str, sites: bool) -> Result<Settings, ConfigErrors> {
    let mut reader = Reader::new(name, text, sites);
    let document = match toml_edit::ImDocument::parse(text) {
        Ok(document) => document,
        Err(error) => {
            let message = error.message().trim().replace('\n', " ");
            reader.error(error.span().as_ref(), format!("invalid TOML: {message}"));
            return Err(finish(reader));
        }
    };
    let root = Section {
        name: "the top level",
        table: document.as_table(),
        span: None,
    };
    let settings = sections::read_root(&mut reader, &root);
    if reader.errors.is_empty() {
        Ok(settings)
    } else {
        Err(finish(reader))
    }
}

fn finish(reader: Reader<'_>) -> ConfigErrors {
    let mut errors = reader.errors;
    errors.sort_by_key(|(offset, _)| *offset);
    ConfigErrors {
        errors: errors.into_iter().map(|(_, error)| error).collect(),
    }
}

/// A policy file (`None`: the embedded default) and the checked paths it judges.
pub type PolicyGroup = (Option<PathBuf>, Vec<PathBuf>);

/// The checked paths grouped by the policy that judges them: `--config` for all, else each
/// path's nearest policy file (`None`: the embedded default). Groups come out sorted by
/// policy path and each group's paths sorted, so the result never depends on the order the
/// paths were given in.
pub fn group_by_policy(
    checked: &[PathBuf],
    explicit: Option<&Path>,
) -> Result<Vec<PolicyGroup>, ConfigErrors> {
    let mut groups: std::collections::BTreeMap<Option<PathBuf>, Vec<PathBuf>> =
        std::collections::BTreeMap::new();
    for path in checked {
        let policy = match explicit {
            Some(explicit) => Some(explicit.to_path_buf()),
            None => Config::find(path)?,
        };
        groups.entry(policy).or_default().push(path.clone());
    }
    Ok(groups
        .into_iter()
        .map(|(policy, mut paths)| {
            paths.sort();
            paths.dedup();
            (policy, paths)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_path_gets_its_nearest_policy_whatever_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["a", "b/inner", "c"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("a/portcullis.toml"), "").unwrap();
        std::fs::write(root.join("b/.portcullis.toml"), "").unwrap();
        let paths =
            |names: &[&str]| -> Vec<PathBuf> { names.iter().map(|n| root.join(n)).collect() };
        let forward = group_by_policy(&paths(&["a", "b/inner", "c"]), None).unwrap();
        let backward = group_by_policy(&paths(&["c", "b/inner", "a"]), None).unwrap();
        assert_eq!(forward, backward);
        assert_eq!(
            forward,
            [
                (None, paths(&["c"])),
                (Some(root.join("a/portcullis.toml")), paths(&["a"])),
                (Some(root.join("b/.portcullis.toml")), paths(&["b/inner"])),
            ]
        );
        let all = group_by_policy(&paths(&["a", "c"]), Some(&root.join("x.toml"))).unwrap();
        assert_eq!(all, [(Some(root.join("x.toml")), paths(&["a", "c"]))]);

        std::fs::write(root.join("a/.portcullis.toml"), "").unwrap();
        let both = group_by_policy(&paths(&["a"]), None)
            .unwrap_err()
            .to_string();
        assert!(
            both.contains("both `portcullis.toml` and `.portcullis.toml`"),
            "{both}"
        );
    }

    #[test]
    fn only_a_regular_file_is_read_as_a_policy() {
        let missing = Config::load(Path::new("/nonexistent/portcullis.toml")).unwrap_err();
        assert!(missing.to_string().contains("does not exist"), "{missing}");
        let device = Config::load(Path::new("/dev/zero")).unwrap_err();
        assert!(
            device
                .to_string()
                .contains("`/dev/zero` is not a regular file"),
            "{device}"
        );
    }

    #[test]
    fn scan_flags_override_the_policys_gate() {
        let config = Config::parse("p.toml", "[scan]\nfail-on = \"critical\"\n").unwrap();
        let kept = config.clone().with_scan_gate(None, false);
        assert_eq!(kept.scan().fail_on.value, FailOn::Critical);
        assert!(!kept.scan().only_fixed.value);
        let flagged = config.with_scan_gate(Some(FailOn::Low), true);
        assert_eq!(flagged.scan().fail_on.value, FailOn::Low);
        assert!(flagged.scan().only_fixed.value);
        // Levels are read whatever their case, as Trivy spells them.
        assert_eq!(FailOn::parse_level("HIGH"), Some(FailOn::High));
        assert_eq!(FailOn::parse_level("none"), Some(FailOn::None));
        assert_eq!(FailOn::parse_level("severe"), None);
    }

    #[test]
    fn a_policy_is_covered_only_by_a_run_over_its_whole_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("services/web")).unwrap();
        std::fs::write(root.join("portcullis.toml"), "").unwrap();
        let config = Config::load(&root.join("portcullis.toml")).unwrap();
        assert!(config.covered_by(&[root.to_path_buf()]));
        assert!(!config.covered_by(&[root.join("services/web")]));
        assert!(Config::embedded_default().covered_by(&[root.join("services")]));
    }
}
