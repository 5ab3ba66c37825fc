//! One reader per section of `portcullis.toml`: known keys, types, and the checks across
//! keys (a waiver needs `rules` or `ids`, a signer needs an issuer, ...). Each records its
//! errors and returns what it could read, so all problems surface together.

use std::collections::BTreeMap;
use std::path::PathBuf;

use portcullis_reference::{ImageRef, Pattern};

use super::reader::{closest, quoted_list, Reader, Section};
use super::settings::{
    HookCommand, HookSettings, ImagesSettings, MirrorSettings, Platforms, RegistrySettings,
    ReportSettings, ScanSettings, Settings, SignSettings, Signer, Spanned, StaleSettings,
    TrustSettings, Waiver, BUILTIN_HOOKS,
};
use crate::{Location, Rule};

const TOP: [&str; 9] = [
    "images",
    "waiver",
    "trust",
    "scan",
    "sign",
    "mirror",
    "stale",
    "report",
    "registries",
];

/// Reads every section of the document root.
pub(crate) fn read_root(reader: &mut Reader<'_>, root: &Section<'_>) -> Settings {
    reader.check_keys(root, &TOP);
    let mut settings = Settings::default();
    if let Some(section) = reader.table(root, "images", "[images]") {
        settings.images = images(reader, &section);
    }
    for section in reader.tables(root, "waiver", "[[waiver]]") {
        if let Some(waiver) = waiver(reader, &section) {
            settings.waiver.push(waiver);
        }
    }
    if let Some(section) = reader.table(root, "trust", "[trust]") {
        settings.trust = trust(reader, &section);
    }
    if let Some(section) = reader.table(root, "scan", "[scan]") {
        settings.scan = scan(reader, &section);
    }
    if let Some(section) = reader.table(root, "sign", "[sign]") {
        settings.sign = sign(reader, &section);
    }
    for section in reader.tables(root, "mirror", "[[mirror]]") {
        if let Some(mirror) = mirror(reader, &section) {
            settings.mirror.push(mirror);
        }
    }
    if let Some(section) = reader.table(root, "stale", "[stale]") {
        settings.stale = stale(reader, &section);
    }
    if let Some(section) = reader.table(root, "report", "[report]") {
        settings.report = report(reader, &section);
    }
    if let Some(section) = reader.table(root, "registries", "[registries]") {
        settings.registries = registries(reader, &section);
    }
    settings
}

fn pattern(text: &str) -> Result<Pattern, String> {
    Pattern::parse(text).map_err(|error| error.to_string())
}

fn images(reader: &mut Reader<'_>, section: &Section<'_>) -> ImagesSettings {
    reader.check_keys(section, &["allow", "deny", "require-digest", "deny-tags"]);
    let mut images = ImagesSettings::default();
    if let Some((allow, site)) = reader.converted(section, "allow", pattern) {
        images.allow = Some(allow);
        images.allow_site = site;
    }
    if let Some((deny, _)) = reader.converted(section, "deny", pattern) {
        images.deny = deny;
    }
    if let Some(require) = reader.bool(section, "require-digest") {
        images.require_digest = require;
    }
    if let Some((tags, _)) = reader.converted(section, "deny-tags", tag) {
        images.deny_tags = tags;
    }
    images
}

/// A tag as Docker accepts it.
fn tag(text: &str) -> Result<String, String> {
    portcullis_reference::host::validate_tag(text).map(|()| text.to_owned())
}

fn rule(text: &str) -> Result<Rule, String> {
    if let Some(rule) = Rule::from_code(text).filter(|rule| rule.is_bad_input()) {
        return Err(format!(
            "`{rule}` cannot be waived: fix the input instead (a gate that cannot read its input fails closed)"
        ));
    }
    Rule::from_code(text).ok_or_else(|| {
        let codes: Vec<&str> = Rule::all().map(Rule::code).collect();
        match closest(text, &codes) {
            Some(best) => format!("unknown rule `{text}`; did you mean `{best}`?"),
            None => format!("unknown rule `{text}` (rules: {})", quoted_list(&codes)),
        }
    })
}

fn waiver(reader: &mut Reader<'_>, section: &Section<'_>) -> Option<Waiver> {
    reader.check_keys(
        section,
        &["rules", "ids", "images", "packages", "reason", "expires"],
    );
    let rules = reader.converted(section, "rules", rule).map(|(v, _)| v);
    let ids = reader.strings(section, "ids").map(|(v, _)| v);
    let images = reader
        .converted(section, "images", pattern)
        .map(|(v, _)| v)
        .unwrap_or_default();
    let packages = reader
        .strings(section, "packages")
        .map(|(v, _)| v)
        .unwrap_or_default();
    let present = |key: &str| Reader::entry(section, key).is_some();
    let reason = reader.non_empty_string(section, "reason");
    if !present("reason") {
        reader.error(
            section.span.as_ref(),
            "`[[waiver]]` needs a `reason` saying why the exception exists".to_owned(),
        );
    }
    let expires = reader.date(section, "expires");
    if !present("expires") {
        reader.error(
            section.span.as_ref(),
            "`[[waiver]]` needs an `expires` date like `2027-03-31`".to_owned(),
        );
    }
    if !present("rules") && !present("ids") {
        reader.error(
            section.span.as_ref(),
            "`[[waiver]]` needs `rules` (rule codes) or `ids` (vulnerability ids) to say what it waives".to_owned(),
        );
    }
    let location = section.span.as_ref().filter(|_| reader.sites).map(|span| {
        let (line, column) = reader.lines.position(reader.text, span.start);
        let (end_line, end_column) = reader.header_end(span.start);
        Location {
            file: reader.file.to_owned(),
            line,
            column,
            end_line,
            end_column,
            span: span.clone(),
        }
    });
    let site = reader.site(section.span.clone(), "waiver declared here".to_owned());
    Some(Waiver {
        rules: rules.unwrap_or_default(),
        ids: ids.unwrap_or_default(),
        images,
        packages,
        reason: reason?,
        expires: expires?,
        site,
        location,
    })
}

fn regex(text: &str) -> Result<String, String> {
    regex::Regex::new(text)
        .map(|_| text.to_owned())
        .map_err(|error| {
            let detail = error.to_string();
            let detail = detail.lines().last().unwrap_or_default().trim();
            let detail = detail.strip_prefix("error: ").unwrap_or(detail);
            format!("invalid regular expression `{text}`: {detail}")
        })
}

/// A regex-valued key, validated.
fn regex_key(reader: &mut Reader<'_>, section: &Section<'_>, key: &str) -> Option<Spanned<String>> {
    let value = reader.string(section, key)?;
    match regex(&value.value) {
        Ok(_) => Some(value),
        Err(message) => {
            let span = Reader::entry(section, key).and_then(|(k, item)| Reader::span_of(k, item));
            reader.error(span.as_ref(), format!("`{key}`: {message}"));
            None
        }
    }
}

fn trust(reader: &mut Reader<'_>, section: &Section<'_>) -> TrustSettings {
    reader.check_keys(section, &["signer"]);
    let mut trust = TrustSettings::default();
    for signer in &reader.tables(section, "signer", "[[trust.signer]]") {
        reader.check_keys(
            signer,
            &[
                "images",
                "issuer",
                "identity",
                "identity-regex",
                "issuer-regex",
            ],
        );
        let images = reader
            .converted(signer, "images", pattern)
            .map(|(v, _)| v)
            .unwrap_or_default();
        let issuer = reader.non_empty_string(signer, "issuer");
        let issuer_regex = regex_key(reader, signer, "issuer-regex");
        let identity = reader.non_empty_string(signer, "identity");
        let identity_regex = regex_key(reader, signer, "identity-regex");
        let present = |key: &str| Reader::entry(signer, key).is_some();
        if !present("issuer") && !present("issuer-regex") {
            reader.error(
                signer.span.as_ref(),
                "`[[trust.signer]]` needs `issuer` or `issuer-regex`".to_owned(),
            );
        }
        if !present("identity") && !present("identity-regex") {
            reader.error(
                signer.span.as_ref(),
                "`[[trust.signer]]` needs `identity` or `identity-regex`".to_owned(),
            );
        }
        let site = reader.site(signer.span.clone(), "signer declared here".to_owned());
        trust.signers.push(Signer {
            images,
            issuer,
            issuer_regex,
            identity,
            identity_regex,
            site,
        });
    }
    trust
}

fn scan(reader: &mut Reader<'_>, section: &Section<'_>) -> ScanSettings {
    reader.check_keys(section, &["hooks", "fail-on", "only-fixed", "vex", "hook"]);
    let mut settings = ScanSettings::default();
    if let Some(fail_on) = reader.choice(section, "fail-on") {
        settings.fail_on = fail_on;
    }
    if let Some(only_fixed) = reader.bool(section, "only-fixed") {
        settings.only_fixed = only_fixed;
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

fn url(reader: &mut Reader<'_>, section: &Section<'_>, key: &str) -> Option<Spanned<String>> {
    let value = reader.string(section, key)?;
    if value.value.starts_with("https://") || value.value.starts_with("http://") {
        return Some(value);
    }
    let span = Reader::entry(section, key).and_then(|(k, item)| Reader::span_of(k, item));
    reader.error(
        span.as_ref(),
        format!("`{key}` must be an `https://` URL, found `{}`", value.value),
    );
    None
}

fn path(reader: &mut Reader<'_>, section: &Section<'_>, key: &str) -> Option<Spanned<PathBuf>> {
    reader.non_empty_string(section, key).map(|value| Spanned {
        value: PathBuf::from(value.value),
        site: value.site,
    })
}

fn sign(reader: &mut Reader<'_>, section: &Section<'_>) -> SignSettings {
    reader.check_keys(
        section,
        &[
            "mode",
            "format",
            "fulcio-url",
            "rekor-url",
            "trusted-root",
            "signing-config",
        ],
    );
    let mut sign = SignSettings::default();
    if let Some(mode) = reader.choice(section, "mode") {
        sign.mode = mode;
    }
    if let Some(format) = reader.choice(section, "format") {
        sign.format = format;
    }
    sign.fulcio_url = url(reader, section, "fulcio-url");
    sign.rekor_url = url(reader, section, "rekor-url");
    sign.trusted_root = path(reader, section, "trusted-root");
    sign.signing_config = path(reader, section, "signing-config");
    sign
}

/// A repository reference without tag or digest.
fn repository(
    reader: &mut Reader<'_>,
    section: &Section<'_>,
    key: &str,
) -> Option<Spanned<ImageRef>> {
    let Some(value) = reader.non_empty_string(section, key) else {
        if Reader::entry(section, key).is_none() {
            reader.error(section.span.as_ref(), format!("`[[mirror]]` needs `{key}`"));
        }
        return None;
    };
    let result = ImageRef::parse(&value.value)
        .map_err(|error| error.to_string())
        .and_then(|image| {
            if image.tag().is_some() || image.digest().is_some() {
                Err(format!(
                    "`{}` must name a repository without tag or digest",
                    value.value
                ))
            } else {
                Ok(image)
            }
        });
    match result {
        Ok(image) => Some(Spanned {
            value: image,
            site: value.site,
        }),
        Err(message) => {
            let span = Reader::entry(section, key).and_then(|(k, item)| Reader::span_of(k, item));
            reader.error(span.as_ref(), format!("`{key}`: {message}"));
            None
        }
    }
}

fn platform(text: &str) -> Result<String, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let valid = (2..=3).contains(&parts.len())
        && parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!("invalid platform `{text}`: expected `os/arch` or `os/arch/variant`, like `linux/arm64`"))
    }
}

fn mirror(reader: &mut Reader<'_>, section: &Section<'_>) -> Option<MirrorSettings> {
    reader.check_keys(section, &["from", "to", "tags", "tag-regex", "platforms"]);
    let from = repository(reader, section, "from");
    let to = repository(reader, section, "to");
    let tags = reader
        .converted(section, "tags", tag)
        .map(|(v, _)| v)
        .unwrap_or_default();
    let tag_regex = regex_key(reader, section, "tag-regex");
    if Reader::entry(section, "tags").is_none() && Reader::entry(section, "tag-regex").is_none() {
        reader.error(
            section.span.as_ref(),
            "`[[mirror]]` needs `tags` or `tag-regex`".to_owned(),
        );
    }
    let platforms = match Reader::entry(section, "platforms") {
        None => Spanned::unsited(Platforms::All),
        Some((_, item)) if item.is_str() => {
            let value = reader.string(section, "platforms")?;
            if value.value != "all" {
                let span = Reader::entry(section, "platforms")
                    .and_then(|(k, item)| Reader::span_of(k, item));
                let message = format!(
                    "`platforms` must be `\"all\"` or a list like `[\"linux/amd64\"]`, found `{}`",
                    value.value
                );
                reader.error(span.as_ref(), message);
                return None;
            }
            Spanned {
                value: Platforms::All,
                site: value.site,
            }
        }
        Some(_) => {
            let (list, site) = reader.converted(section, "platforms", platform)?;
            Spanned {
                value: Platforms::List(list.into_iter().map(|p| p.value).collect()),
                site,
            }
        }
    };
    let site = reader.site(section.span.clone(), "mirror declared here".to_owned());
    Some(MirrorSettings {
        from: from?,
        to: to?,
        tags,
        tag_regex,
        platforms,
        site,
    })
}

fn stale(reader: &mut Reader<'_>, section: &Section<'_>) -> StaleSettings {
    reader.check_keys(section, &["max-age", "trigger"]);
    let mut stale = StaleSettings {
        max_age: reader.duration(section, "max-age"),
        ..StaleSettings::default()
    };
    if let Some(trigger) = reader.choice(section, "trigger") {
        stale.trigger = trigger;
    }
    stale
}

fn report(reader: &mut Reader<'_>, section: &Section<'_>) -> ReportSettings {
    reader.check_keys(section, &["comment"]);
    let mut report = ReportSettings::default();
    if let Some(comment) = reader.choice(section, "comment") {
        report.comment = comment;
    }
    report
}

fn registries(
    reader: &mut Reader<'_>,
    section: &Section<'_>,
) -> BTreeMap<String, RegistrySettings> {
    let mut out = BTreeMap::new();
    let names: Vec<(String, String)> = section
        .table
        .iter()
        .map(|(name, _)| (name.to_owned(), format!("[registries.\"{name}\"]")))
        .collect();
    for (host, label) in &names {
        let host = host.clone();
        let valid_host = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !valid_host {
            let span = Reader::entry(section, &host).and_then(|(k, _)| k.span());
            let message = format!("invalid registry host `{host}` in `[registries]`: expected `host` or `host:port`, without scheme or path");
            reader.error(span.as_ref(), message);
            continue;
        }
        let Some(table) = reader.table(section, &host, label) else {
            continue;
        };
        reader.check_keys(&table, &["insecure", "ca-file"]);
        let insecure = reader
            .bool(&table, "insecure")
            .unwrap_or(Spanned::unsited(false));
        let ca_file = path(reader, &table, "ca-file");
        let site = reader.site(table.span.clone(), format!("`{host}` configured here"));
        out.insert(
            host,
            RegistrySettings {
                insecure,
                ca_file,
                site,
            },
        );
    }
    out
}
