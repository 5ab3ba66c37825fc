//! Vulnerabilities found by scanners: `[scan] fail-on` and `only-fixed` → `vulnerability`,
//! and the per-image gate summary (what was found, suppressed, waived, decided).
//!
//! Severities a scanner leaves open (Trivy `UNKNOWN`, Grype `Unknown` and `Negligible`)
//! are rated first by `unknown-as` and `negligible-as` (defaults: kept as they are, below
//! `low`, so no `fail-on` level counts them). The rated severity is what the gate judges and
//! every format shows; the scanner's own stays in `scanner_severity`.

use std::path::PathBuf;
use std::time::Duration;

use schemars::JsonSchema;

use super::At;
use crate::config::reader::{closest, quoted_list, Reader, Section};
use crate::config::settings::{FailOn, RateAs, ReportFormat, Spanned};
use crate::config::ConfigSite;
use crate::finding::{Detail, Finding, Severity};
use crate::rules::Rule;
use crate::vuln::{
    FixState, ScanGate, ScanResult, SeverityCounts, SuppressedBy, VulnSeverity, Vulnerability,
    VulnerabilityFinding,
};

/// A scanner hook's command: one shell string or an argument vector.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
pub enum HookCommand {
    /// Run through `sh -c`.
    Shell(String),
    /// Program and arguments, no shell.
    Argv(Vec<String>),
}

/// `[[scan.hook]]`: a custom scanner command.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HookSettings {
    /// The name `hooks` and `--hook` refer to.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// `{image}` is replaced by the image reference.
    #[schemars(with = "HookCommand")]
    pub command: Spanned<HookCommand>,
    /// What the command writes on stdout.
    #[schemars(with = "ReportFormat")]
    pub format: Spanned<ReportFormat>,
    /// Like `5m` or `30s`.
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<Duration>>,
    #[schemars(skip)]
    pub site: Option<ConfigSite>,
}

/// `[scan]`: which scanners run and what fails the gate.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ScanSettings {
    /// Hooks to run: built-ins `trivy`, `grype`, `syft`, or `[[scan.hook]]` names.
    #[schemars(with = "Vec<String>")]
    pub hooks: Vec<Spanned<String>>,
    /// Lowest severity that fails (default `high`).
    #[schemars(with = "FailOn")]
    pub fail_on: Spanned<FailOn>,
    /// Only vulnerabilities with a fix fail the gate.
    #[schemars(with = "bool")]
    pub only_fixed: Spanned<bool>,
    /// The severity of a vulnerability its scanner rates `UNKNOWN` (default `unknown`:
    /// below `low`, so it never fails the gate).
    #[schemars(with = "RateAs")]
    pub unknown_as: Spanned<RateAs>,
    /// The severity of a vulnerability its scanner rates `Negligible` (default
    /// `negligible`: below `low`, so it never fails the gate).
    #[schemars(with = "RateAs")]
    pub negligible_as: Spanned<RateAs>,
    /// VEX documents (paths relative to the config file).
    #[schemars(with = "Vec<String>")]
    pub vex: Vec<Spanned<PathBuf>>,
    /// Custom hooks.
    pub hook: Vec<HookSettings>,
}

impl Default for ScanSettings {
    fn default() -> Self {
        Self {
            hooks: Vec::new(),
            fail_on: Spanned::unsited(FailOn::High),
            only_fixed: Spanned::unsited(false),
            unknown_as: Spanned::unsited(RateAs::Unknown),
            negligible_as: Spanned::unsited(RateAs::Negligible),
            vex: Vec::new(),
            hook: Vec::new(),
        }
    }
}

/// Scanners built into portcullis (`hooks = ["trivy"]`).
pub const BUILTIN_HOOKS: [&str; 3] = ["trivy", "grype", "syft"];

pub(crate) fn read(reader: &mut Reader<'_>, section: &Section<'_>) -> ScanSettings {
    reader.check_keys(
        section,
        &[
            "hooks",
            "fail-on",
            "only-fixed",
            "unknown-as",
            "negligible-as",
            "vex",
            "hook",
        ],
    );
    let mut settings = ScanSettings::default();
    if let Some(fail_on) = reader.choice(section, "fail-on") {
        settings.fail_on = fail_on;
    }
    if let Some(only_fixed) = reader.bool(section, "only-fixed") {
        settings.only_fixed = only_fixed;
    }
    if let Some(rate) = reader.choice(section, "unknown-as") {
        settings.unknown_as = rate;
    }
    if let Some(rate) = reader.choice(section, "negligible-as") {
        settings.negligible_as = rate;
    }
    if let Some((vex, _)) = reader.strings(section, "vex") {
        settings.vex = vex
            .into_iter()
            .map(|v| Spanned {
                value: PathBuf::from(v.value),
                site: v.site,
            })
            .collect();
    }
    for hook in reader.tables(section, "hook", "[[scan.hook]]") {
        if let Some(hook) = scan_hook(reader, &hook) {
            if BUILTIN_HOOKS.contains(&hook.name.value.as_str())
                || settings
                    .hook
                    .iter()
                    .any(|other| other.name.value == hook.name.value)
            {
                let span = hook.name.site.as_ref().map(|site| site.span.clone());
                reader.error(
                    span.as_ref(),
                    format!("duplicate scanner hook name `{}`", hook.name.value),
                );
            }
            settings.hook.push(hook);
        }
    }
    if let Some((hooks, _)) = reader.strings(section, "hooks") {
        let mut known: Vec<&str> = BUILTIN_HOOKS.to_vec();
        known.extend(settings.hook.iter().map(|hook| hook.name.value.as_str()));
        for name in &hooks {
            if !known.contains(&name.value.as_str()) {
                let span = Reader::entry_span(section, "hooks", &name.value);
                let hint = closest(&name.value, &known)
                    .map(|b| format!("; did you mean `{b}`?"))
                    .unwrap_or_default();
                let message = format!(
                    "unknown scanner hook `{}` in `hooks`: expected one of {} or a `[[scan.hook]]` name{hint}",
                    name.value,
                    quoted_list(&BUILTIN_HOOKS)
                );
                reader.error(span.as_ref(), message);
            }
        }
        settings.hooks = hooks;
    }
    settings
}

fn scan_hook(reader: &mut Reader<'_>, section: &Section<'_>) -> Option<HookSettings> {
    reader.check_keys(section, &["name", "command", "format", "timeout"]);
    let name = reader.non_empty_string(section, "name");
    let command = match Reader::entry(section, "command") {
        None => {
            reader.error(
                section.span.as_ref(),
                "`[[scan.hook]]` needs a `command`".to_owned(),
            );
            None
        }
        Some((_, item)) if item.is_str() => {
            reader
                .non_empty_string(section, "command")
                .map(|command| Spanned {
                    value: HookCommand::Shell(command.value),
                    site: command.site,
                })
        }
        Some((key, item)) => match reader.strings(section, "command") {
            Some((argv, site)) if !argv.is_empty() => Some(Spanned {
                value: HookCommand::Argv(argv.into_iter().map(|arg| arg.value).collect()),
                site,
            }),
            Some(_) => {
                reader.error(
                    Reader::span_of(key, item).as_ref(),
                    "`command` must not be empty".to_owned(),
                );
                None
            }
            None => None,
        },
    };
    let format = reader.choice(section, "format");
    for (key, label) in [("name", "a `name`"), ("format", "a `format`")] {
        if Reader::entry(section, key).is_none() {
            reader.error(
                section.span.as_ref(),
                format!("`[[scan.hook]]` needs {label}"),
            );
        }
    }
    let timeout = reader.duration(section, "timeout");
    let site = reader.site(section.span.clone(), "hook declared here".to_owned());
    Some(HookSettings {
        name: name?,
        command: command?,
        format: format?,
        timeout,
        site,
    })
}

/// The severity the policy gives a vulnerability its scanner rated `severity`.
#[must_use]
pub fn rated(settings: &ScanSettings, severity: VulnSeverity) -> VulnSeverity {
    match severity {
        VulnSeverity::Unknown => settings.unknown_as.value.severity(),
        VulnSeverity::Negligible => settings.negligible_as.value.severity(),
        other => other,
    }
}

/// The scan with every severity rated by the policy (`unknown-as`, `negligible-as`); a
/// severity that changes keeps the scanner's in `scanner_severity`.
#[must_use]
pub fn rate(settings: &ScanSettings, scan: &ScanResult) -> ScanResult {
    let mut scan = scan.clone();
    for vuln in &mut scan.vulnerabilities {
        let severity = rated(settings, vuln.severity);
        if severity != vuln.severity {
            vuln.scanner_severity.get_or_insert(vuln.severity);
            vuln.severity = severity;
        }
    }
    scan
}

/// Whether a vulnerability counts against the gate.
#[must_use]
pub fn counts(settings: &ScanSettings, vuln: &Vulnerability) -> bool {
    let Some(threshold) = settings.fail_on.value.threshold() else {
        return false;
    };
    vuln.suppressed_by != Some(SuppressedBy::Vex)
        && vuln.severity >= threshold
        && (!settings.only_fixed.value || vuln.fix_state == FixState::Fixed)
}

/// A `vulnerability` finding for each vulnerability that counts.
pub(crate) fn check(settings: &ScanSettings, at: &At<'_>, scan: &ScanResult) -> Vec<Finding> {
    scan.vulnerabilities
        .iter()
        .filter(|vuln| counts(settings, vuln))
        .map(|vuln| finding(at, &scan.image, vuln))
        .collect()
}

/// The scan inventory with waived vulnerabilities marked `suppressed_by: waiver`, and the
/// gate's summary.
pub(crate) fn judged(
    settings: &ScanSettings,
    scan: &ScanResult,
    findings: &[Finding],
) -> ScanResult {
    let mut scan = scan.clone();
    let mut gate = ScanGate {
        fail_on: settings.fail_on.value.as_str().to_owned(),
        only_fixed: settings.only_fixed.value,
        ..ScanGate::default()
    };
    let mut found = SeverityCounts::default();
    for vuln in &mut scan.vulnerabilities {
        found.add(vuln.severity);
        let waived = findings.iter().find(|finding| {
            finding.waived
                && finding.image.as_deref() == Some(scan.image.as_str())
                && finding.vulnerability().is_some_and(|block| {
                    block.id == vuln.id
                        && block.package == vuln.package
                        && block.installed == vuln.installed
                })
        });
        if let Some(finding) = waived.filter(|_| vuln.suppressed_by.is_none()) {
            vuln.suppressed_by = Some(SuppressedBy::Waiver);
            vuln.justification = finding.waiver.as_ref().map(|w| w.reason.clone());
        }
        match vuln.suppressed_by {
            Some(SuppressedBy::Vex) => gate.suppressed_by_vex += 1,
            Some(SuppressedBy::Waiver) => gate.waived += 1,
            None if counts(settings, vuln) => gate.failing += 1,
            None => {}
        }
    }
    gate.found = found;
    gate.passed = gate.failing == 0;
    scan.gate = Some(gate);
    scan
}

fn severity_name(severity: VulnSeverity) -> &'static str {
    match severity {
        VulnSeverity::Unknown => "unknown",
        VulnSeverity::Negligible => "negligible",
        VulnSeverity::Low => "low",
        VulnSeverity::Medium => "medium",
        VulnSeverity::High => "high",
        VulnSeverity::Critical => "critical",
    }
}

fn finding(at: &At<'_>, scanned: &str, vuln: &Vulnerability) -> Finding {
    let fixed = if vuln.fixed.is_empty() {
        String::new()
    } else {
        format!(", fixed in `{}`", vuln.fixed.join("`, `"))
    };
    let message = format!(
        "`{}` ({}) in `{}` `{}` of `{scanned}`{fixed}",
        vuln.id,
        severity_name(vuln.severity),
        vuln.package,
        vuln.installed
    );
    let help = if vuln.fixed.is_empty() {
        format!(
            "no fix is available: rebuild on another base, or add a `[[waiver]]` with `ids = [\"{}\"]`, a reason and an expiry date",
            vuln.id
        )
    } else {
        format!(
            "upgrade `{}` to `{}` or rebuild on a patched base image",
            vuln.package, vuln.fixed[0]
        )
    };
    let mut finding = at.finding(Rule::Vulnerability, Severity::Error, message, Some(help));
    finding.image = Some(scanned.to_owned());
    finding.detail = Some(Detail::Vulnerability(VulnerabilityFinding {
        id: vuln.id.clone(),
        aliases: vuln.aliases.clone(),
        package: vuln.package.clone(),
        installed: vuln.installed.clone(),
        fixed: vuln.fixed.clone(),
        fix_state: vuln.fix_state,
        severity: vuln.severity,
        cvss: vuln.cvss,
        scanners: vuln.scanners.clone(),
        suppressed_by: vuln.suppressed_by.clone(),
    }));
    finding
}
