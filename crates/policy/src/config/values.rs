//! Small value parsers and message helpers for the config reader: dates, durations, how a
//! TOML value is named in "found …" messages, and typo suggestions.

use std::time::Duration;

use toml_edit::{Item, Value};

pub(crate) fn date_from_parts(year: i64, month: i64, day: i64) -> Option<jiff::civil::Date> {
    let year = i16::try_from(year).ok()?;
    let month = i8::try_from(month).ok()?;
    let day = i8::try_from(day).ok()?;
    jiff::civil::Date::new(year, month, day).ok()
}

/// Parses exactly `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    let bytes = text.as_bytes();
    let shape = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape {
        return None;
    }
    date_from_parts(
        text[0..4].parse().ok()?,
        text[5..7].parse().ok()?,
        text[8..10].parse().ok()?,
    )
}

/// Parses `<number><unit>` with unit `s`, `m`, `h`, `d` or `w`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let unit = text.chars().last()?;
    let seconds: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count: u64 = number.parse().ok()?;
    count.checked_mul(seconds).map(Duration::from_secs)
}

/// How an item is named in "found …" messages.
pub(crate) fn describe(item: &Item) -> String {
    match item {
        Item::None => "nothing".to_owned(),
        Item::Value(value) => describe_value(value),
        Item::Table(_) => "a table".to_owned(),
        Item::ArrayOfTables(_) => "an array of tables".to_owned(),
    }
}

pub(crate) fn describe_value(value: &Value) -> String {
    let shown = |text: String| {
        let text = text.trim().to_owned();
        if text.chars().count() > 40 {
            format!("{}…", text.chars().take(40).collect::<String>())
        } else {
            text
        }
    };
    match value {
        Value::String(s) => format!("string `{}`", shown(s.value().clone())),
        Value::Integer(i) => format!("integer `{}`", i.value()),
        Value::Float(f) => format!("float `{}`", f.value()),
        Value::Boolean(b) => format!("boolean `{}`", b.value()),
        Value::Datetime(d) => format!("date-time `{}`", d.value()),
        Value::Array(a) => format!("array `{}`", shown(a.to_string())),
        Value::InlineTable(t) => format!("table `{}`", shown(t.to_string())),
    }
}

/// `a`, `b`, `c` for messages.
pub(crate) fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The known name closest to `name`, if it is close enough to be a typo.
pub(crate) fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    known
        .iter()
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_mins(5)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_hours(720)));
        for bad in [
            "",
            "d",
            "5",
            "-5m",
            "5 m",
            "1.5h",
            "99999999999999999999w",
            "5é",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2027-03-31"),
            Some(jiff::civil::date(2027, 3, 31))
        );
        for bad in [
            "2027-02-30",
            "2027-3-31",
            "27-03-31",
            "2027-03-31T00:00",
            "２０２７-03-31",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("requre-digest", &["allow", "require-digest"]),
            Some("require-digest")
        );
        assert_eq!(closest("zzz", &["allow", "deny"]), None);
    }
}
