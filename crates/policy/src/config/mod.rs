//! `portcullis.toml`: found by walking up, parsed with spans, validated completely (every
//! problem is reported at once, each at `file:line:col`), and exposed as typed settings
//! that the other crates read.

mod reader;
mod sections;
pub mod settings;
mod values;

use std::fmt;
use std::path::{Path, PathBuf};

use self::reader::{Reader, Section};
pub use self::settings::*;

/// The file name looked for by [`Config::find`].
pub const CONFIG_FILE_NAME: &str = "portcullis.toml";

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
        let settings = read("<embedded default>", EMBEDDED_DEFAULT, false).unwrap_or_default();
        Self {
            path: None,
            source: EMBEDDED_DEFAULT.to_owned(),
            name: "<embedded default>".to_owned(),
            settings,
        }
    }

    /// Walks up from `start` (a file or a directory) looking for `portcullis.toml`.
    #[must_use]
    pub fn find(start: &Path) -> Option<PathBuf> {
        let start = std::path::absolute(start).unwrap_or_else(|_| start.to_owned());
        let first = if start.is_file() {
            start.parent()?
        } else {
            &start
        };
        first
            .ancestors()
            .map(|dir| dir.join(CONFIG_FILE_NAME))
            .find(|candidate| candidate.is_file())
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
