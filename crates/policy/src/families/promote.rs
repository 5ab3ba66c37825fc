//! Where an image may be promoted to, and what must hold first: `[[promote]]` →
//! `promotion-refused`.
//!
//! `portcullis promote SOURCE@DIGEST TARGET[:TAG]` copies a built image into the registry
//! production pulls from. When the policy has `[[promote]]` entries, the pair must match
//! one (its `from` pattern the source, its `to` pattern the target, as `[images]` patterns
//! match: anchored, `*` within a path segment, `**` across them; the first matching entry
//! in file order wins), and the checks in its `require` list must run: a required `scan`
//! with no hook and no report, or a required `verify` with no `[[trust.signer]]` covering
//! the source, refuses the promotion instead of skipping the check. With no `[[promote]]`
//! at all, any pair is allowed, the source is verified when a `[[trust.signer]]` covers it,
//! and scanned when there is something to scan with.

use portcullis_reference::{ImageRef, Pattern};
use schemars::JsonSchema;

use crate::config::reader::{Reader, Section};
use crate::config::sections::pattern;
use crate::config::settings::{Choice, PromoteCheck, Spanned};
use crate::config::values::quoted_list;
use crate::config::{Config, ConfigSite};
use crate::finding::{Finding, Severity};
use crate::rules::Rule;

/// `[[promote]]`: a pair of repositories an image may be promoted between, and the checks
/// it must pass.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PromoteSettings {
    /// Pattern of the source repositories (as `[images] allow` writes them).
    #[schemars(with = "String")]
    pub from: Spanned<Pattern>,
    /// Pattern of the target repositories.
    #[schemars(with = "String")]
    pub to: Spanned<Pattern>,
    /// Checks that must run and pass: `verify`, `scan`.
    #[schemars(with = "Vec<PromoteCheck>", default)]
    pub require: Vec<Spanned<PromoteCheck>>,
    #[schemars(skip)]
    pub site: Option<ConfigSite>,
}

impl PromoteSettings {
    /// Whether the entry allows promoting `source` to `target`.
    #[must_use]
    pub fn allows(&self, source: &ImageRef, target: &ImageRef) -> bool {
        self.from.value.matches(source) && self.to.value.matches(target)
    }

    /// Whether `require` lists `check`.
    #[must_use]
    pub fn requires(&self, check: PromoteCheck) -> bool {
        self.require.iter().any(|listed| listed.value == check)
    }

    /// The line the entry starts on (0 when not known).
    fn line(&self) -> u32 {
        self.site.as_ref().map_or(0, |site| site.line)
    }
}

/// Whether a check runs for a promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Not run: nothing asks for it.
    Skip,
    /// Run because the policy can (a signer covers the source, a scanner is at hand).
    Run,
    /// Run because the matching `[[promote]]` entry requires it.
    Required,
}

impl Need {
    /// Whether the check runs.
    #[must_use]
    pub fn runs(self) -> bool {
        self != Self::Skip
    }
}

/// What a promotion must go through, as the policy decides it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionPlan {
    /// The index of the matching `[[promote]]` entry (`None`: the policy has none).
    pub entry: Option<usize>,
    /// Verifying the source's signature against `[trust]`.
    pub verify: Need,
    /// The `[scan]` gate on the source.
    pub scan: Need,
}

/// What the caller has for the scan gate besides the policy's `[scan] hooks`: `--hook`
/// names or `--report` files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanInputs {
    pub hooks: bool,
    pub reports: bool,
}

/// Which checks promoting `source` to `target` needs, or the `promotion-refused` findings
/// that stop it before anything is read from a registry: the pair matches no
/// `[[promote]]` entry, or a check the entry requires cannot run.
pub fn plan(
    config: &Config,
    source: &ImageRef,
    target: &ImageRef,
    inputs: ScanInputs,
) -> Result<PromotionPlan, Vec<Finding>> {
    let can_verify = !config.trust().signers_for(source).is_empty();
    let can_scan = inputs.hooks || inputs.reports || !config.scan().hooks.is_empty();
    let entries = config.promotions();
    if entries.is_empty() {
        return Ok(PromotionPlan {
            entry: None,
            verify: if can_verify { Need::Run } else { Need::Skip },
            scan: if can_scan { Need::Run } else { Need::Skip },
        });
    }
    let Some((index, entry)) = entries
        .iter()
        .enumerate()
        .find(|(_, entry)| entry.allows(source, target))
    else {
        let lines: Vec<String> = entries.iter().map(|e| e.line().to_string()).collect();
        let message = format!(
            "promoting `{source}` to `{target}` is not allowed: no `[[promote]]` entry (line{} {} of `{}`) has a `from` matching the source and a `to` matching the target",
            if lines.len() == 1 { "" } else { "s" },
            lines.join(", "),
            config.name()
        );
        let help = format!(
            "promote into a repository a `[[promote]]` entry names, or add an entry with `from = \"{}\"` and `to = \"{}\"`",
            source.name(),
            target.name()
        );
        return Err(vec![refusal(
            source,
            message,
            help,
            entries[0].site.clone(),
        )]);
    };
    let mut refused = Vec::new();
    let at = format!("the `[[promote]]` entry at line {}", entry.line());
    let verify = if entry.requires(PromoteCheck::Verify) {
        if !can_verify {
            refused.push(refusal(
                source,
                format!(
                    "{at} requires `verify`, but no `[[trust.signer]]` covers `{}`",
                    source.name()
                ),
                "add a `[[trust.signer]]` whose `images` cover the source".to_owned(),
                entry.site.clone(),
            ));
        }
        Need::Required
    } else if can_verify {
        Need::Run
    } else {
        Need::Skip
    };
    let scan = if entry.requires(PromoteCheck::Scan) {
        if !can_scan {
            refused.push(refusal(
                source,
                format!("{at} requires `scan`, but there is nothing to scan with: no `[scan] hooks`, `--hook` or `--report`"),
                "pass `--report FILE` (a scanner's report about the source) or `--hook trivy`, or set `[scan] hooks`".to_owned(),
                entry.site.clone(),
            ));
        }
        Need::Required
    } else if can_scan {
        Need::Run
    } else {
        Need::Skip
    };
    if refused.is_empty() {
        Ok(PromotionPlan {
            entry: Some(index),
            verify,
            scan,
        })
    } else {
        Err(refused)
    }
}

/// A `promotion-refused` finding about `source`, pointing at the policy entry behind it.
#[must_use]
pub fn refusal(
    source: &ImageRef,
    message: String,
    help: String,
    cause: Option<ConfigSite>,
) -> Finding {
    let mut finding = Finding::new(Rule::PromotionRefused, Severity::Error, message, Some(help));
    finding.image = Some(source.to_string());
    finding.cause = cause;
    finding
}

pub(crate) fn read(reader: &mut Reader<'_>, section: &Section<'_>) -> Option<PromoteSettings> {
    reader.check_keys(section, &["from", "to", "require"]);
    let from = required_pattern(reader, section, "from");
    let to = required_pattern(reader, section, "to");
    let require = reader
        .converted(section, "require", |text| {
            PromoteCheck::from_name(text).ok_or_else(|| {
                format!(
                    "unknown check `{text}`: expected {}",
                    quoted_list(&PromoteCheck::names())
                )
            })
        })
        .map(|(checks, _)| checks)
        .unwrap_or_default();
    let site = reader.site(section.span.clone(), "promotion declared here".to_owned());
    Some(PromoteSettings {
        from: from?,
        to: to?,
        require,
        site,
    })
}

fn required_pattern(
    reader: &mut Reader<'_>,
    section: &Section<'_>,
    key: &str,
) -> Option<Spanned<Pattern>> {
    let Some(value) = reader.non_empty_string(section, key) else {
        if Reader::entry(section, key).is_none() {
            reader.error(
                section.span.as_ref(),
                format!("`[[promote]]` needs `{key}`"),
            );
        }
        return None;
    };
    match pattern(&value.value) {
        Ok(parsed) => Some(Spanned {
            value: parsed,
            site: value.site,
        }),
        Err(message) => {
            let span = Reader::entry(section, key).and_then(|(k, item)| Reader::span_of(k, item));
            reader.error(span.as_ref(), format!("`{key}`: {message}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::parse("portcullis.toml", text).unwrap()
    }

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    const SOURCE: &str = "registry.example.com/staging/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    const ENTRIES: &str = r#"
[[trust.signer]]
images = ["registry.example.com/staging/**"]
issuer = "https://token.actions.githubusercontent.com"
identity = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"

[[promote]]
from = "registry.example.com/staging/**"
to = "registry.example.com/prod/**"
require = ["verify", "scan"]

[[promote]]
from = "registry.example.com/dev/*"
to = "registry.example.com/qa/*"
"#;

    #[test]
    fn a_pair_outside_every_entry_is_refused_naming_the_pair_and_the_lines() {
        let config = config(ENTRIES);
        let target = image("registry.example.com/elsewhere/app:1.0");
        let refused = plan(&config, &image(SOURCE), &target, ScanInputs::default()).unwrap_err();
        assert_eq!(refused.len(), 1);
        let finding = &refused[0];
        assert_eq!(finding.rule, Rule::PromotionRefused);
        assert!(
            finding
                .message
                .contains("registry.example.com/staging/app@sha256:0123")
                && finding
                    .message
                    .contains("registry.example.com/elsewhere/app:1.0")
                && finding.message.contains("lines 7, 12"),
            "{}",
            finding.message
        );
        assert_eq!(finding.cause.as_ref().map(|c| c.line), Some(7));
        // The source matches one entry's `from` and the target another's `to`: still no
        // entry allows the pair.
        let crossed = image("registry.example.com/qa/app:1");
        assert!(plan(&config, &image(SOURCE), &crossed, ScanInputs::default()).is_err());
        // A host that only starts like the allowed one is another registry.
        let evil = image("registry.example.com.evil.io/prod/app:1");
        assert!(plan(&config, &image(SOURCE), &evil, ScanInputs::default()).is_err());
    }

    #[test]
    fn a_required_scan_without_anything_to_scan_with_is_refused_not_skipped() {
        let config = config(ENTRIES);
        let target = image("registry.example.com/prod/app:1.0");
        let refused = plan(&config, &image(SOURCE), &target, ScanInputs::default()).unwrap_err();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].message.contains("requires `scan`") && refused[0].message.contains("line 7"),
            "{}",
            refused[0].message
        );
        let with_report = ScanInputs {
            reports: true,
            ..ScanInputs::default()
        };
        let planned = plan(&config, &image(SOURCE), &target, with_report).unwrap();
        assert_eq!(
            planned,
            PromotionPlan {
                entry: Some(0),
                verify: Need::Required,
                scan: Need::Required,
            }
        );
        // `[scan] hooks` is something to scan with too.
        let hooks = format!("[scan]\nhooks = [\"trivy\"]\n{ENTRIES}");
        let planned = plan(
            &Config::parse("portcullis.toml", &hooks).unwrap(),
            &image(SOURCE),
            &target,
            ScanInputs::default(),
        )
        .unwrap();
        assert_eq!(planned.scan, Need::Required);
    }

    #[test]
    fn a_required_verify_without_a_signer_for_the_source_is_refused() {
        let config = config(
            r#"
[[promote]]
from = "registry.example.com/staging/**"
to = "registry.example.com/prod/**"
require = ["verify"]
"#,
        );
        let target = image("registry.example.com/prod/app");
        let refused = plan(&config, &image(SOURCE), &target, ScanInputs::default()).unwrap_err();
        assert!(
            refused[0].message.contains("requires `verify`")
                && refused[0].message.contains("[[trust.signer]]"),
            "{}",
            refused[0].message
        );
    }

    #[test]
    fn an_entry_without_require_runs_what_the_policy_can_and_skips_the_rest() {
        let config = config(ENTRIES);
        let dev = image("registry.example.com/dev/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        let qa = image("registry.example.com/qa/app:1");
        let planned = plan(&config, &dev, &qa, ScanInputs::default()).unwrap();
        assert_eq!(
            planned,
            PromotionPlan {
                entry: Some(1),
                verify: Need::Skip,
                scan: Need::Skip,
            }
        );
        let hooks = ScanInputs {
            hooks: true,
            ..ScanInputs::default()
        };
        assert_eq!(plan(&config, &dev, &qa, hooks).unwrap().scan, Need::Run);
    }

    #[test]
    fn without_promote_entries_any_pair_is_allowed_and_covered_sources_are_verified() {
        let config = config(
            r#"
[[trust.signer]]
images = ["registry.example.com/staging/**"]
issuer = "https://token.actions.githubusercontent.com"
identity = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
"#,
        );
        let target = image("registry.example.com/anywhere/app:1");
        let planned = plan(&config, &image(SOURCE), &target, ScanInputs::default()).unwrap();
        assert_eq!(
            planned,
            PromotionPlan {
                entry: None,
                verify: Need::Run,
                scan: Need::Skip,
            }
        );
        let other = image("docker.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        let reports = ScanInputs {
            reports: true,
            ..ScanInputs::default()
        };
        let planned = plan(&config, &other, &target, reports).unwrap();
        assert_eq!((planned.verify, planned.scan), (Need::Skip, Need::Run));
    }

    #[test]
    fn entries_are_read_with_spanned_errors() {
        let errors = Config::parse(
            "portcullis.toml",
            r#"
[[promote]]
from = "registry.example.com/staging/**"
require = ["verify", "sacn"]
color = "red"

[[promote]]
from = "UPPER/Case"
to = "registry.example.com/prod/**"
"#,
        )
        .unwrap_err();
        let text = errors.to_string();
        assert!(
            text.contains("portcullis.toml:2:1: `[[promote]]` needs `to`"),
            "{text}"
        );
        assert!(
            text.contains(
                "portcullis.toml:4:22: `require`: unknown check `sacn`: expected `verify`, `scan`"
            ),
            "{text}"
        );
        assert!(
            text.contains("portcullis.toml:5:1") && text.contains("`color`"),
            "{text}"
        );
        assert!(text.contains("portcullis.toml:8:8: `from`"), "{text}");
        let config = config(ENTRIES);
        assert_eq!(config.promotions().len(), 2);
        assert!(config.promotions()[0].requires(PromoteCheck::Scan));
        assert!(!config.promotions()[1].requires(PromoteCheck::Verify));
    }
}
