//! A spanned reader over a parsed `toml_edit` document: typed getters that record an error
//! with `file:line:col` instead of failing, so that every problem in `portcullis.toml` is
//! reported in one go, and that remember where each value is written for later diagnostics.

use std::ops::Range;
use std::time::Duration;

use toml_edit::{Item, Key, TableLike, Value};

use super::settings::{Choice, Spanned};
pub(crate) use super::values::{closest, quoted_list};
use super::values::{date_from_parts, describe, describe_value, parse_date, parse_duration};
use super::{ConfigError, ConfigSite};

/// Converts byte offsets into 1-based line and character columns.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex {
    /// Byte offset of the start of every line.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(at, _)| at + 1));
        Self { starts }
    }

    /// 1-based line and column (in characters) of byte `offset` in `text`.
    pub(crate) fn position(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let start = self.starts[line];
        // Back off to a character boundary so slicing never panics.
        let mut end = offset;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let column = text[start..end].chars().count() + 1;
        (line as u32 + 1, column as u32)
    }

    /// Byte offset of the end of the line holding `offset` (before the newline).
    pub(crate) fn line_end(&self, text: &str, offset: usize) -> usize {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let end = self
            .starts
            .get(line + 1)
            .map_or(text.len(), |next| next - 1);
        if end > 0 && text.as_bytes().get(end - 1) == Some(&b'\r') {
            end - 1
        } else {
            end
        }
    }
}

/// One table being read: how to name it in messages and where it starts.
#[derive(Clone)]
pub(crate) struct Section<'d> {
    /// How messages name it, e.g. `[images]` or `[[waiver]]`.
    pub(crate) name: &'d str,
    pub(crate) table: &'d dyn TableLike,
    /// Byte span of the header (or the key that opened it).
    pub(crate) span: Option<Range<usize>>,
}

/// Reads values out of sections, collecting errors.
pub(crate) struct Reader<'t> {
    pub(crate) file: &'t str,
    pub(crate) text: &'t str,
    pub(crate) lines: LineIndex,
    /// Whether sites are recorded (not for the embedded default).
    pub(crate) sites: bool,
    pub(crate) errors: Vec<(usize, ConfigError)>,
}

impl<'t> Reader<'t> {
    pub(crate) fn new(file: &'t str, text: &'t str, sites: bool) -> Self {
        Self {
            file,
            text,
            lines: LineIndex::new(text),
            sites,
            errors: Vec::new(),
        }
    }

    /// Records an error at byte `offset`.
    pub(crate) fn error(&mut self, span: Option<&Range<usize>>, message: String) {
        let offset = span.map_or(0, |span| span.start);
        let (line, column) = self.lines.position(self.text, offset);
        let error = ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            message,
        };
        self.errors.push((offset, error));
    }

    /// The site of a span, labelled.
    pub(crate) fn site(&self, span: Option<Range<usize>>, label: String) -> Option<ConfigSite> {
        if !self.sites {
            return None;
        }
        let span = span?;
        let (line, column) = self.lines.position(self.text, span.start);
        Some(ConfigSite {
            file: self.file.to_owned(),
            line,
            column,
            span,
            label,
        })
    }

    /// End position (line, column) of the header line starting at `offset`.
    pub(crate) fn header_end(&self, offset: usize) -> (u32, u32) {
        let end = self.lines.line_end(self.text, offset);
        let header = &self.text[offset.min(end)..end];
        // Stop before a trailing comment; headers do not contain `#` outside quotes often,
        // and a slightly long end column is harmless.
        let trimmed = header.split(" #").next().unwrap_or(header).trim_end();
        self.lines.position(self.text, offset + trimmed.len())
    }

    /// Rejects keys not in `known`, suggesting the closest one.
    pub(crate) fn check_keys(&mut self, section: &Section<'_>, known: &[&str]) {
        for (name, _) in section.table.iter() {
            if known.contains(&name) {
                continue;
            }
            let span = section
                .table
                .get_key_value(name)
                .and_then(|(key, _)| key.span());
            let hint = match closest(name, known) {
                Some(best) => format!("; did you mean `{best}`?"),
                None => format!(" (known keys: {})", quoted_list(known)),
            };
            let place = if section.name.starts_with('[') {
                format!("`{}`", section.name)
            } else {
                section.name.to_owned()
            };
            self.error(
                span.as_ref(),
                format!("unknown key `{name}` in {place}{hint}"),
            );
        }
    }

    /// The key and item for `key`, when present.
    pub(crate) fn entry<'d>(section: &Section<'d>, key: &str) -> Option<(&'d Key, &'d Item)> {
        section.table.get_key_value(key)
    }

    /// The span of a value, falling back to its key.
    pub(crate) fn span_of(key: &Key, item: &Item) -> Option<Range<usize>> {
        item.span().or_else(|| key.span())
    }

    fn wrong_type(&mut self, key: &Key, item: &Item, expected: &str) {
        let span = Self::span_of(key, item);
        let message = format!(
            "`{}` must be {expected}, found {}",
            key.get(),
            describe(item)
        );
        self.error(span.as_ref(), message);
    }

    /// A string value.
    pub(crate) fn string(&mut self, section: &Section<'_>, key: &str) -> Option<Spanned<String>> {
        let (k, item) = Self::entry(section, key)?;
        if let Some(text) = item.as_str() {
            let site = self.site(item.span(), format!("`{key}` set here"));
            Some(Spanned {
                value: text.to_owned(),
                site,
            })
        } else {
            self.wrong_type(k, item, "a string");
            None
        }
    }

    /// A non-empty string value.
    pub(crate) fn non_empty_string(
        &mut self,
        section: &Section<'_>,
        key: &str,
    ) -> Option<Spanned<String>> {
        let (k, item) = Self::entry(section, key)?;
        let value = self.string(section, key)?;
        if value.value.trim().is_empty() {
            self.error(
                Self::span_of(k, item).as_ref(),
                format!("`{key}` must not be empty"),
            );
            return None;
        }
        Some(value)
    }

    /// A boolean value.
    pub(crate) fn bool(&mut self, section: &Section<'_>, key: &str) -> Option<Spanned<bool>> {
        let (k, item) = Self::entry(section, key)?;
        if let Some(value) = item.as_bool() {
            let site = self.site(item.span(), format!("`{key}` set here"));
            Some(Spanned { value, site })
        } else {
            self.wrong_type(k, item, "a boolean");
            None
        }
    }

    /// An array of strings; returns the entries and the site of the key.
    pub(crate) fn strings(
        &mut self,
        section: &Section<'_>,
        key: &str,
    ) -> Option<(Vec<Spanned<String>>, Option<ConfigSite>)> {
        let (k, item) = Self::entry(section, key)?;
        let Some(array) = item.as_array() else {
            self.wrong_type(k, item, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for value in array {
            if let Some(text) = value.as_str() {
                let site = self.site(value.span(), format!("`{key}` entry `{text}`"));
                out.push(Spanned {
                    value: text.to_owned(),
                    site,
                });
            } else {
                let message = format!(
                    "`{key}` entries must be strings, found {}",
                    describe_value(value)
                );
                self.error(value.span().or_else(|| k.span()).as_ref(), message);
            }
        }
        let site = self.site(k.span(), format!("`{key}` set here"));
        Some((out, site))
    }

    /// Strings converted with `convert`; conversion errors are reported at the entry.
    pub(crate) fn converted<T>(
        &mut self,
        section: &Section<'_>,
        key: &str,
        mut convert: impl FnMut(&str) -> Result<T, String>,
    ) -> Option<(Vec<Spanned<T>>, Option<ConfigSite>)> {
        let (entries, site) = self.strings(section, key)?;
        let mut out = Vec::new();
        for entry in entries {
            match convert(&entry.value) {
                Ok(value) => out.push(Spanned {
                    value,
                    site: entry.site,
                }),
                Err(message) => {
                    let span = Self::entry_span(section, key, &entry.value);
                    self.error(span.as_ref(), format!("`{key}`: {message}"));
                }
            }
        }
        Some((out, site))
    }

    /// The span of the array entry `text` under `key` (for errors when sites are off).
    pub(crate) fn entry_span(section: &Section<'_>, key: &str, text: &str) -> Option<Range<usize>> {
        let (k, item) = Self::entry(section, key)?;
        item.as_array()
            .and_then(|array| array.iter().find(|value| value.as_str() == Some(text)))
            .and_then(Value::span)
            .or_else(|| k.span())
    }

    /// One of a fixed set of strings.
    pub(crate) fn choice<T: Choice>(
        &mut self,
        section: &Section<'_>,
        key: &str,
    ) -> Option<Spanned<T>> {
        let (k, item) = Self::entry(section, key)?;
        let Some(text) = item.as_str() else {
            let expected = format!("one of {}", quoted_list(&T::names()));
            self.wrong_type(k, item, &expected);
            return None;
        };
        if let Some(value) = T::from_name(text) {
            let site = self.site(item.span(), format!("`{key} = \"{text}\"` set here"));
            return Some(Spanned { value, site });
        }
        let names = T::names();
        let hint = closest(text, &names)
            .map(|best| format!("; did you mean `{best}`?"))
            .unwrap_or_default();
        let message = format!(
            "invalid `{key}` value `{text}`: expected one of {}{hint}",
            quoted_list(&names)
        );
        self.error(Self::span_of(k, item).as_ref(), message);
        None
    }

    /// A date: a TOML local date (`2027-03-31`) or a `"YYYY-MM-DD"` string.
    pub(crate) fn date(
        &mut self,
        section: &Section<'_>,
        key: &str,
    ) -> Option<Spanned<jiff::civil::Date>> {
        let (k, item) = Self::entry(section, key)?;
        let span = Self::span_of(k, item);
        let parsed = if let Some(datetime) = item.as_datetime() {
            match (datetime.date, datetime.time, datetime.offset) {
                (Some(date), None, None) => date_from_parts(
                    i64::from(date.year),
                    i64::from(date.month),
                    i64::from(date.day),
                )
                .ok_or_else(|| format!("`{key}` is not a valid date: `{datetime}`")),
                _ => Err(format!(
                    "`{key}` must be a date like `2027-03-31`, found date-time `{datetime}`"
                )),
            }
        } else if let Some(text) = item.as_str() {
            parse_date(text)
                .ok_or_else(|| format!("`{key}` must be a date like `2027-03-31`, found `{text}`"))
        } else {
            Err(format!(
                "`{key}` must be a date like `2027-03-31`, found {}",
                describe(item)
            ))
        };
        match parsed {
            Ok(value) => Some(Spanned {
                value,
                site: self.site(span, format!("`{key}` set here")),
            }),
            Err(message) => {
                self.error(span.as_ref(), message);
                None
            }
        }
    }

    /// A duration like `30s`, `5m`, `2h`, `30d`, `2w`.
    pub(crate) fn duration(
        &mut self,
        section: &Section<'_>,
        key: &str,
    ) -> Option<Spanned<Duration>> {
        let value = self.string(section, key)?;
        if let Some(duration) = parse_duration(&value.value) {
            return Some(Spanned {
                value: duration,
                site: value.site,
            });
        }
        let span = Self::entry(section, key).and_then(|(k, item)| Self::span_of(k, item));
        let message = format!(
            "invalid `{key}` value `{}`: expected a number followed by `s`, `m`, `h`, `d` or `w`, like `30d`",
            value.value
        );
        self.error(span.as_ref(), message);
        None
    }

    /// A sub-table (`[a.b]` or `b = { … }`).
    pub(crate) fn table<'d>(
        &mut self,
        section: &Section<'d>,
        key: &str,
        name: &'d str,
    ) -> Option<Section<'d>> {
        let (k, item) = Self::entry(section, key)?;
        if let Some(table) = item.as_table_like() {
            Some(Section {
                name,
                table,
                span: item.span().or_else(|| k.span()),
            })
        } else {
            self.wrong_type(k, item, "a table");
            None
        }
    }

    /// An array of tables (`[[a.b]]` or `b = [{ … }]`).
    pub(crate) fn tables<'d>(
        &mut self,
        section: &Section<'d>,
        key: &str,
        name: &'d str,
    ) -> Vec<Section<'d>> {
        let Some((k, item)) = Self::entry(section, key) else {
            return Vec::new();
        };
        if let Some(array) = item.as_array_of_tables() {
            return array
                .iter()
                .map(|table| Section {
                    name,
                    table: table as &dyn TableLike,
                    span: table.span(),
                })
                .collect();
        }
        if let Some(array) = item.as_array() {
            let mut out = Vec::new();
            for value in array {
                if let Some(table) = value.as_inline_table() {
                    out.push(Section {
                        name,
                        table: table as &dyn TableLike,
                        span: table.span(),
                    });
                } else {
                    let message = format!(
                        "`{key}` entries must be tables, found {}",
                        describe_value(value)
                    );
                    self.error(value.span().or_else(|| k.span()).as_ref(), message);
                }
            }
            return out;
        }
        self.wrong_type(k, item, "an array of tables");
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_from_one() {
        let text = "ab\né=1\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), (1, 1));
        assert_eq!(index.position(text, 3), (2, 1));
        // `=` follows the two-byte `é`.
        assert_eq!(index.position(text, 5), (2, 2));
        assert_eq!(
            index.position(text, 4),
            (2, 1),
            "inside a character backs off"
        );
        assert_eq!(index.position(text, 999), (3, 1));
    }
}
