//! The typed settings of `portcullis.toml`, one struct per section with public fields, so
//! that every crate reads the same validated values. Each value remembers where it is
//! written ([`Spanned`]) for diagnostics. The same types generate the JSON schema.

use std::collections::BTreeMap;
use std::path::PathBuf;

use portcullis_reference::{ImageRef, Platform};
use schemars::JsonSchema;

use super::ConfigSite;
use crate::vuln::VulnSeverity;

/// A value and where it is written (`None` for defaults and the embedded policy).
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub site: Option<ConfigSite>,
}

impl<T> Spanned<T> {
    /// A value that is not written anywhere (a default).
    #[must_use]
    pub fn unsited(value: T) -> Self {
        Self { value, site: None }
    }
}

/// A default value, not written anywhere.
impl<T: Default> Default for Spanned<T> {
    fn default() -> Self {
        Self::unsited(T::default())
    }
}

/// A spanned value serializes as the value (for defaults in the JSON schema).
impl<T: serde::Serialize> serde::Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

/// The schema of a spanned value is the schema of the value.
impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn schema_name() -> String {
        T::schema_name()
    }
    fn json_schema(generator: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(generator)
    }
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
}

/// A closed set of string values (`fail-on`, `mode`, ...).
pub trait Choice: Copy + Sized + 'static {
    /// Every value with its spelling in the file.
    const CHOICES: &'static [(&'static str, Self)];
    /// The spellings, in order.
    #[must_use]
    fn names() -> Vec<&'static str> {
        Self::CHOICES.iter().map(|(name, _)| *name).collect()
    }
    /// The value spelled `name`.
    #[must_use]
    fn from_name(name: &str) -> Option<Self> {
        Self::CHOICES
            .iter()
            .find(|(candidate, _)| *candidate == name)
            .map(|(_, value)| *value)
    }
}

/// `Variant = "spelling"`, optionally `| "other-spelling"`: further spellings are accepted
/// when reading the file but not listed in messages or the schema.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, JsonSchema, serde::Serialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }
        impl Choice for $name {
            const CHOICES: &'static [(&'static str, Self)] = &[$(($text, Self::$variant),)+];
            fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text $(| $alias)* => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
        impl $name {
            /// The spelling in `portcullis.toml`.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }
        }
    };
}

choice! {
    /// The lowest vulnerability severity that fails the gate.
    FailOn {
        /// Only critical.
        Critical = "critical",
        /// High and critical.
        High = "high",
        /// Medium and above.
        Medium = "medium",
        /// Low and above.
        Low = "low",
        /// Vulnerabilities never fail the gate (they are still listed).
        None = "none",
    }
}

impl FailOn {
    /// A level as a user writes it, in any case (`HIGH`, as Trivy spells it).
    #[must_use]
    pub fn parse_level(text: &str) -> Option<Self> {
        Self::from_name(&text.trim().to_ascii_lowercase())
    }

    /// The lowest severity that counts, `None` when nothing does.
    #[must_use]
    pub fn threshold(self) -> Option<VulnSeverity> {
        match self {
            Self::Critical => Some(VulnSeverity::Critical),
            Self::High => Some(VulnSeverity::High),
            Self::Medium => Some(VulnSeverity::Medium),
            Self::Low => Some(VulnSeverity::Low),
            Self::None => None,
        }
    }
}

choice! {
    /// The severity a vulnerability rated `Unknown` or `Negligible` by its scanner is
    /// treated as (`[scan] unknown-as`, `negligible-as`), in the gate and in every report.
    RateAs {
        /// Critical.
        Critical = "critical",
        /// High.
        High = "high",
        /// Medium.
        Medium = "medium",
        /// Low.
        Low = "low",
        /// Negligible: below `low`, so no `fail-on` level counts it.
        Negligible = "negligible",
        /// Unknown: below everything, so no `fail-on` level counts it.
        Unknown = "unknown",
    }
}

impl RateAs {
    /// The severity it stands for.
    #[must_use]
    pub fn severity(self) -> VulnSeverity {
        match self {
            Self::Critical => VulnSeverity::Critical,
            Self::High => VulnSeverity::High,
            Self::Medium => VulnSeverity::Medium,
            Self::Low => VulnSeverity::Low,
            Self::Negligible => VulnSeverity::Negligible,
            Self::Unknown => VulnSeverity::Unknown,
        }
    }
}

choice! {
    /// The format of a scanner hook's output or of a report file: the one list of document
    /// formats, shared by the config (`[[scan.hook]] format`) and the scan crate's parsers.
    ReportFormat {
        /// `trivy image --format json` (schema version 2).
        TrivyJson = "trivy-json",
        /// `grype -o json`.
        GrypeJson = "grype-json",
        /// SARIF 2.1.0 from Trivy or Grype.
        Sarif = "sarif",
        /// `CycloneDX` JSON with `vulnerabilities[].analysis`: VEX statements.
        CyclonedxVex = "cyclonedx-vex",
        /// `OpenVEX` JSON.
        Openvex = "openvex",
        /// `CycloneDX` JSON SBOM (also spelled `cyclonedx-json`, Syft's name for it).
        Cyclonedx = "cyclonedx" | "cyclonedx-json",
        /// SPDX 2.x JSON SBOM.
        SpdxJson = "spdx-json",
    }
}

impl ReportFormat {
    /// The format's name in messages (`Trivy JSON`, `CycloneDX VEX`).
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::TrivyJson => "Trivy JSON",
            Self::GrypeJson => "Grype JSON",
            Self::Sarif => "SARIF",
            Self::CyclonedxVex => "CycloneDX VEX",
            Self::Openvex => "OpenVEX",
            Self::Cyclonedx => "CycloneDX JSON",
            Self::SpdxJson => "SPDX JSON",
        }
    }

    /// Whether documents of this format are SBOMs (no vulnerability list).
    #[must_use]
    pub fn is_sbom(self) -> bool {
        matches!(self, Self::Cyclonedx | Self::SpdxJson)
    }

    /// Whether documents of this format are VEX statements.
    #[must_use]
    pub fn is_vex(self) -> bool {
        matches!(self, Self::CyclonedxVex | Self::Openvex)
    }
}

/// Shows [`ReportFormat::title`].
impl std::fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.title())
    }
}

choice! {
    /// How images are signed.
    SignMode {
        /// Sigstore keyless: Fulcio certificate from the CI's OIDC token, logged in Rekor.
        Keyless = "keyless",
        /// A key pair.
        Key = "key",
    }
}

choice! {
    /// Where signatures are stored.
    SignFormat {
        /// Sigstore bundle as an OCI 1.1 referrer (what cosign v3 reads first).
        Bundle = "bundle",
        /// The `sha256-<hex>.sig` tag.
        Legacy = "legacy",
        /// Both.
        Both = "both",
    }
}

choice! {
    /// A check `[[promote]] require` makes mandatory before an image is promoted.
    PromoteCheck {
        /// The source's signature, against `[[trust.signer]]`.
        Verify = "verify",
        /// The `[scan]` gate, on scanner hooks or `--report` files.
        Scan = "scan",
    }
}

choice! {
    /// How `portcullis stale --trigger` asks for a rebuild.
    Trigger {
        GithubDispatch = "github-dispatch",
        GithubWorkflow = "github-workflow",
        GitlabPipeline = "gitlab-pipeline",
        None = "none",
    }
}

choice! {
    /// What happens to the pull/merge request comment.
    CommentMode {
        /// Edit the one sticky comment.
        Update = "update",
        /// Post a new comment each run.
        New = "new",
        /// No comment.
        Off = "off",
    }
}

pub use crate::families::images::ImagesSettings;
pub use crate::families::mirrors::TagRegex;
pub use crate::families::promote::PromoteSettings;
pub use crate::families::signatures::{Signer, TrustSettings};
pub use crate::families::staleness::StaleSettings;
pub use crate::families::vulnerabilities::{
    HookCommand, HookSettings, ScanSettings, BUILTIN_HOOKS,
};
pub use crate::families::waivers::Waiver;

/// `[sign]`: how `sign`, `attest` and `promote` sign.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SignSettings {
    #[schemars(with = "SignMode")]
    pub mode: Spanned<SignMode>,
    #[schemars(with = "SignFormat")]
    pub format: Spanned<SignFormat>,
    /// Private Fulcio instance.
    #[schemars(with = "Option<String>")]
    pub fulcio_url: Option<Spanned<String>>,
    /// Private Rekor instance.
    #[schemars(with = "Option<String>")]
    pub rekor_url: Option<Spanned<String>>,
    /// `trusted_root.json` for a private Sigstore deployment.
    #[schemars(with = "Option<String>")]
    pub trusted_root: Option<Spanned<PathBuf>>,
    /// Sigstore `signing_config.json`.
    #[schemars(with = "Option<String>")]
    pub signing_config: Option<Spanned<PathBuf>>,
}

impl Default for SignSettings {
    fn default() -> Self {
        Self {
            mode: Spanned::unsited(SignMode::Keyless),
            format: Spanned::unsited(SignFormat::Bundle),
            fulcio_url: None,
            rekor_url: None,
            trusted_root: None,
            signing_config: None,
        }
    }
}

/// Platforms to mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Platforms {
    /// `"all"`: every platform of the index.
    #[default]
    All,
    /// Only these `os/arch[/variant]`.
    List(Vec<Platform>),
}

impl Platforms {
    /// The listed platforms, or `None` for every platform.
    #[must_use]
    pub fn listed(&self) -> Option<&[Platform]> {
        match self {
            Platforms::All => None,
            Platforms::List(list) => Some(list),
        }
    }
}

/// `"all"` or a list of platforms.
impl JsonSchema for Platforms {
    fn schema_name() -> String {
        "Platforms".to_owned()
    }
    fn json_schema(_: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        let schema = serde_json::json!({
            "description": "`\"all\"` or a list of `os/arch[/variant]` platforms.",
            "anyOf": [
                { "type": "string", "enum": ["all"] },
                { "type": "array", "items": { "type": "string", "pattern": "^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$" } }
            ]
        });
        serde_json::from_value(schema).unwrap_or(schemars::schema::Schema::Bool(true))
    }
}

/// `[build]`: how the Dockerfiles of the repository are built.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct BuildSettings {
    /// The platforms built, `os/arch[/variant]`: the values of `TARGETOS`, `TARGETARCH`,
    /// `TARGETPLATFORM`, `BUILDOS`, ... in Dockerfiles (default `linux/amd64`, `linux/arm64`).
    #[schemars(with = "Vec<String>")]
    pub platforms: Spanned<Vec<Platform>>,
}

impl Default for BuildSettings {
    fn default() -> Self {
        let platforms = ["linux/amd64", "linux/arm64"]
            .iter()
            .filter_map(|p| Platform::parse(p).ok())
            .collect();
        Self {
            platforms: Spanned::unsited(platforms),
        }
    }
}

/// `[[mirror]]`: copy a public repository into a private registry.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MirrorSettings {
    /// Source repository (no tag, no digest).
    #[schemars(with = "String")]
    pub from: Spanned<ImageRef>,
    /// Target repository (no tag, no digest).
    #[schemars(with = "String")]
    pub to: Spanned<ImageRef>,
    /// Tags to copy.
    #[schemars(with = "Vec<String>", default)]
    pub tags: Vec<Spanned<String>>,
    /// Tags matching this regular expression are copied too; it must match the whole
    /// tag (anchored at both ends, like the image patterns).
    #[schemars(with = "Option<String>")]
    pub tag_regex: Option<Spanned<String>>,
    /// `tag-regex`, compiled anchored.
    #[schemars(skip)]
    pub tag_pattern: Option<TagRegex>,
    /// `"all"` (default) or a list like `["linux/amd64"]`.
    #[schemars(with = "Platforms", default)]
    pub platforms: Spanned<Platforms>,
    /// Gate the source on `[scan]` before copying (default `false`).
    #[schemars(with = "bool", default)]
    pub scan: Spanned<bool>,
    #[schemars(skip)]
    pub site: Option<ConfigSite>,
}

/// `[report]`: pull/merge request comment behaviour.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ReportSettings {
    #[schemars(with = "CommentMode")]
    pub comment: Spanned<CommentMode>,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            comment: Spanned::unsited(CommentMode::Update),
        }
    }
}

/// `[registries."host:port"]`: transport settings for one registry.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RegistrySettings {
    /// Plain HTTP.
    #[schemars(with = "bool", default)]
    pub insecure: Spanned<bool>,
    /// Extra CA certificate (PEM), relative to the config file.
    #[schemars(with = "Option<String>")]
    pub ca_file: Option<Spanned<PathBuf>>,
    /// How long one request to this registry may take, like `30s` (default 10 s).
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<std::time::Duration>>,
    #[schemars(skip)]
    pub site: Option<ConfigSite>,
}

/// The whole file, for the JSON schema.
#[derive(Debug, Clone, Default, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
#[schemars(
    title = "portcullis.toml",
    description = "Policy file of portcullis, a supply-chain gate for container builds."
)]
pub struct Settings {
    pub images: ImagesSettings,
    pub build: BuildSettings,
    pub waiver: Vec<Waiver>,
    pub trust: TrustSettings,
    pub scan: ScanSettings,
    pub sign: SignSettings,
    pub mirror: Vec<MirrorSettings>,
    pub promote: Vec<PromoteSettings>,
    pub stale: StaleSettings,
    pub report: ReportSettings,
    pub registries: BTreeMap<String, RegistrySettings>,
}
