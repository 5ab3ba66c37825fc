//! Reads the document root: each rule family's section through that family's reader
//! (`crate::families`), and here the sections that are not rules (`[sign]`, `[[mirror]]`,
//! `[report]`, `[registries]`) and the value helpers the readers share. Each records its
//! errors and returns what it could read, so all problems surface together.

use std::collections::BTreeMap;
use std::path::PathBuf;

use portcullis_reference::{ImageRef, Pattern, Platform};

use super::reader::{Reader, Section};
use super::settings::{
    BuildSettings, MirrorSettings, Platforms, RegistrySettings, ReportSettings, Settings,
    SignSettings, Spanned, TagRegex,
};
use crate::families;

const TOP: [&str; 11] = [
    "images",
    "build",
    "waiver",
    "trust",
    "scan",
    "sign",
    "mirror",
    "promote",
    "stale",
    "report",
    "registries",
];

/// Reads every section of the document root.
pub(crate) fn read_root(reader: &mut Reader<'_>, root: &Section<'_>) -> Settings {
    reader.check_keys(root, &TOP);
    let mut settings = Settings::default();
    if let Some(section) = reader.table(root, "images", "[images]") {
        settings.images = families::images::read(reader, &section);
    }
    if let Some(section) = reader.table(root, "build", "[build]") {
        settings.build = build(reader, &section);
    }
    for section in reader.tables(root, "waiver", "[[waiver]]") {
        if let Some(waiver) = families::waivers::read(reader, &section) {
            settings.waiver.push(waiver);
        }
    }
    if let Some(section) = reader.table(root, "trust", "[trust]") {
        settings.trust = families::signatures::read(reader, &section);
    }
    if let Some(section) = reader.table(root, "scan", "[scan]") {
        settings.scan = families::vulnerabilities::read(reader, &section);
    }
    if let Some(section) = reader.table(root, "sign", "[sign]") {
        settings.sign = sign(reader, &section);
    }
    for section in reader.tables(root, "mirror", "[[mirror]]") {
        if let Some(mirror) = mirror(reader, &section) {
            settings.mirror.push(mirror);
        }
    }
    for section in reader.tables(root, "promote", "[[promote]]") {
        if let Some(promote) = families::promote::read(reader, &section) {
            settings.promote.push(promote);
        }
    }
    if let Some(section) = reader.table(root, "stale", "[stale]") {
        settings.stale = families::staleness::read(reader, &section);
    }
    if let Some(section) = reader.table(root, "report", "[report]") {
        settings.report = report(reader, &section);
    }
    if let Some(section) = reader.table(root, "registries", "[registries]") {
        settings.registries = registries(reader, &section);
    }
    settings
}

pub(crate) fn pattern(text: &str) -> Result<Pattern, String> {
    Pattern::parse(text).map_err(|error| error.to_string())
}

/// A tag as Docker accepts it.
pub(crate) fn tag(text: &str) -> Result<String, String> {
    portcullis_reference::host::validate_tag(text).map(|()| text.to_owned())
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
pub(crate) fn regex_key(
    reader: &mut Reader<'_>,
    section: &Section<'_>,
    key: &str,
) -> Option<Spanned<String>> {
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

fn platform(text: &str) -> Result<Platform, String> {
    Platform::parse(text).map_err(|error| error.to_string())
}

fn build(reader: &mut Reader<'_>, section: &Section<'_>) -> BuildSettings {
    reader.check_keys(section, &["platforms"]);
    let mut build = BuildSettings::default();
    let parse = |text: &str| Platform::parse(text).map_err(|error| error.to_string());
    let empty = Reader::entry(section, "platforms")
        .and_then(|(_, item)| item.as_array())
        .is_some_and(toml_edit::Array::is_empty);
    if empty {
        let span =
            Reader::entry(section, "platforms").and_then(|(k, item)| Reader::span_of(k, item));
        let message = "`platforms` needs at least one platform, like `[\"linux/amd64\"]`";
        reader.error(span.as_ref(), message.to_owned());
    } else if let Some((list, site)) = reader.converted(section, "platforms", parse) {
        let mut platforms: Vec<Platform> = Vec::new();
        for platform in list {
            if !platforms.contains(&platform.value) {
                platforms.push(platform.value);
            }
        }
        if !platforms.is_empty() {
            build.platforms = Spanned {
                value: platforms,
                site,
            };
        }
    }
    build
}

fn mirror(reader: &mut Reader<'_>, section: &Section<'_>) -> Option<MirrorSettings> {
    reader.check_keys(
        section,
        &["from", "to", "tags", "tag-regex", "platforms", "scan"],
    );
    let from = repository(reader, section, "from");
    let to = repository(reader, section, "to");
    let tags = reader
        .converted(section, "tags", tag)
        .map(|(v, _)| v)
        .unwrap_or_default();
    let tag_regex = regex_key(reader, section, "tag-regex");
    // Valid as written, so valid anchored too.
    let tag_pattern = tag_regex
        .as_ref()
        .and_then(|text| TagRegex::new(&text.value).ok());
    let scan_first = reader
        .bool(section, "scan")
        .unwrap_or(Spanned::unsited(false));
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
        tag_pattern,
        platforms,
        scan: scan_first,
        site,
    })
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
        reader.check_keys(&table, &["insecure", "ca-file", "timeout"]);
        let insecure = reader
            .bool(&table, "insecure")
            .unwrap_or(Spanned::unsited(false));
        let ca_file = path(reader, &table, "ca-file");
        let timeout = reader.duration(&table, "timeout");
        let site = reader.site(table.span.clone(), format!("`{host}` configured here"));
        out.insert(
            host,
            RegistrySettings {
                insecure,
                ca_file,
                timeout,
                site,
            },
        );
    }
    out
}
