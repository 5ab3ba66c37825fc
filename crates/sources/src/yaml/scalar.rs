//! What a scalar's source text says: its type under the YAML 1.2 core schema (an `image:`
//! must be a string, not `42` or `null`), where its own text sits once anchors, tags, quotes
//! and trailing comments are set aside, and whether that text is exactly its value, which
//! is what lets `pin` edit it in place.

use std::ops::Range;

use saphyr_parser::ScalarStyle;

use super::tree::Scalar;

impl Scalar {
    /// Null under the YAML 1.2 core schema.
    pub(crate) fn is_null(&self) -> bool {
        self.style == ScalarStyle::Plain
            && !self.tagged
            && matches!(self.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }

    /// A string (not null, bool, int or float) under the YAML 1.2 core schema.
    pub(crate) fn is_string(&self) -> bool {
        self.style != ScalarStyle::Plain
            || self.tagged
            || !(self.is_null() || is_core_non_string(&self.value))
    }
}

/// Plain scalars that the YAML 1.2 core schema reads as bool, int or float.
fn is_core_non_string(v: &str) -> bool {
    if matches!(v, "true" | "True" | "TRUE" | "false" | "False" | "FALSE") {
        return true;
    }
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(v, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    if let Some(oct) = v.strip_prefix("0o") {
        return !oct.is_empty() && oct.bytes().all(|b| (b'0'..=b'7').contains(&b));
    }
    if let Some(hex) = v.strip_prefix("0x") {
        return !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    // [0-9]+ ( . [0-9]* )? ( [eE] [-+]? [0-9]+ )?  or  . [0-9]+ ...
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && (!int.is_empty() || frac.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok && !mantissa.is_empty()
}

/// The scalar's own text inside the parser's `span`: without `&anchor`/`!tag` properties,
/// and for quoted scalars from the opening to the closing quote (the parser's span may run on
/// over a trailing comment). Block scalars keep the span, trimmed.
pub(crate) fn source_span(text: &str, span: &Range<usize>, style: ScalarStyle) -> Range<usize> {
    let Some(raw) = text.get(span.clone()) else {
        return span.clone();
    };
    let trimmed = |r: &str, offset: usize| {
        let start = offset + (r.len() - r.trim_start().len());
        start..(offset + r.trim_end().len()).max(start)
    };
    let quote = match style {
        ScalarStyle::SingleQuoted => '\'',
        ScalarStyle::DoubleQuoted => '"',
        ScalarStyle::Plain => {
            let body = skip_properties(raw);
            let r = trimmed(body, raw.len() - body.len());
            return span.start + r.start..span.start + r.end;
        }
        _ => {
            let r = trimmed(raw, 0);
            return span.start + r.start..span.start + r.end;
        }
    };
    let Some(open) = raw.find(quote) else {
        return span.clone();
    };
    let mut chars = raw[open + 1..].char_indices();
    let mut close = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            c if c == quote => {
                if quote == '\'' && raw[open + 1 + i + 1..].starts_with('\'') {
                    chars.next();
                } else {
                    close = Some(open + 1 + i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    span.start + open..span.start + close.unwrap_or(raw.len())
}

/// `raw` after any leading `&anchor` and `!tag` properties.
pub(super) fn skip_properties(raw: &str) -> &str {
    let mut rest = raw.trim_start();
    while rest.starts_with(['!', '&']) {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest
}

/// The byte span of a scalar's value when its source text (`source`, from [`source_span`])
/// is exactly the value: plain or quoted, one line, no escapes.
pub(crate) fn exact_span(
    text: &str,
    source: &Range<usize>,
    value: &str,
    style: ScalarStyle,
) -> Option<Range<usize>> {
    if value.contains(['\n', '\r']) {
        return None;
    }
    let raw = text.get(source.clone())?;
    let inner = match style {
        ScalarStyle::Plain => source.clone(),
        ScalarStyle::SingleQuoted => {
            raw.strip_prefix('\'')?.strip_suffix('\'')?;
            source.start + 1..source.end - 1
        }
        ScalarStyle::DoubleQuoted => {
            raw.strip_prefix('"')?.strip_suffix('"')?;
            source.start + 1..source.end - 1
        }
        _ => return None,
    };
    (text.get(inner.clone())? == value).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema_types() {
        for v in [
            "1", "-2", "0x1f", "0o7", "1.5", ".5", "1e3", "true", "NULL", "~", "", ".inf", "-.inf",
            ".nan",
        ] {
            let s = Scalar {
                value: v.into(),
                style: ScalarStyle::Plain,
                tagged: false,
                exact: None,
                source: 0..0,
            };
            assert!(!s.is_string(), "{v}");
        }
        for v in ["nginx", "1.2.3", "0x", "e5", "1e", "-", ".", "yes"] {
            let s = Scalar {
                value: v.into(),
                style: ScalarStyle::Plain,
                tagged: false,
                exact: None,
                source: 0..0,
            };
            assert!(s.is_string(), "{v}");
        }
    }
}
