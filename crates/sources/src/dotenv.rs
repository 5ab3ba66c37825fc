//! The `.env` file beside a compose file, which compose reads for `${VAR}` interpolation:
//! `KEY=value` lines, an optional `export ` prefix, `#` comments (whole lines, or after a
//! blank in an unquoted value), single quotes (literal), double quotes (escapes `\n`, `\"`,
//! `\\`, may span lines) and `${VAR}`/`$VAR` of keys defined earlier in the file. The
//! process environment is never read, so the result does not depend on the machine.

use std::collections::BTreeMap;
use std::io::ErrorKind;

use crate::project::{dir_of, join_rel};
use crate::{Problem, ProblemKind, SourceFile};

/// `.env` files larger than this are refused.
const MAX_ENV_SIZE: u64 = 1024 * 1024;

/// Reads the `.env` beside `compose`: `Ok(None)` when there is none, a problem naming the
/// file (and line) when it cannot be read or parsed.
pub(crate) fn beside(compose: &SourceFile) -> Result<Option<BTreeMap<String, String>>, Problem> {
    let Some(dir) = compose.path.parent() else {
        return Ok(None);
    };
    let path = dir.join(".env");
    let rel = join_rel(dir_of(&compose.rel), ".env").unwrap_or_else(|| ".env".to_owned());
    let problem = |line: Option<usize>, message: String| Problem {
        kind: ProblemKind::FileInvalid,
        file: rel.clone(),
        line: line.and_then(|l| u32::try_from(l).ok()),
        column: line.map(|_| 1),
        message,
    };
    let meta = match std::fs::metadata(&path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(problem(None, format!("`{rel}`: cannot read: {error}"))),
    };
    if !meta.is_file() {
        return Err(problem(None, format!("`{rel}`: not a regular file")));
    }
    if meta.len() > MAX_ENV_SIZE {
        let message = format!(
            "`{rel}`: file is {} bytes, larger than the {MAX_ENV_SIZE}-byte limit",
            meta.len()
        );
        return Err(problem(None, message));
    }
    let bytes = std::fs::read(&path)
        .map_err(|error| problem(None, format!("`{rel}`: cannot read: {error}")))?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        problem(
            None,
            format!("`{rel}`: not UTF-8 text (invalid byte at offset {offset})"),
        )
    })?;
    parse(&text)
        .map(Some)
        .map_err(|(line, message)| problem(Some(line), format!("`{rel}`: {message}")))
}

/// Parses `.env` text; `Err` carries the 1-based line and a message naming the value.
pub(crate) fn parse(text: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut vars = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, rest)) = line.split_once('=') else {
            let key = line.trim_end();
            if is_key(key) {
                // `KEY` alone takes the process environment, which portcullis does not read.
                continue;
            }
            return Err((
                number,
                format!("expected `KEY=value`, found `{}`", line.trim_end()),
            ));
        };
        let key = key.trim_end();
        if !is_key(key) {
            return Err((number, format!("invalid variable name `{key}`")));
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('\'') {
            match body.find('\'') {
                Some(end) => body[..end].to_owned(),
                None => return Err((number, format!("missing closing `'` in `{line}`"))),
            }
        } else if let Some(body) = rest.strip_prefix('"') {
            let mut body = body.to_owned();
            let value = loop {
                if let Some(value) = double_quoted(&body) {
                    break value;
                }
                let Some(next) = lines.get(i) else {
                    return Err((number, format!("missing closing `\"` in `{line}`")));
                };
                body.push('\n');
                body.push_str(next);
                i += 1;
            };
            interpolate(&value, &vars)
        } else {
            let value = match rest.find(" #").or_else(|| rest.find("\t#")) {
                Some(comment) => &rest[..comment],
                None => rest,
            };
            interpolate(value.trim_end(), &vars)
        };
        vars.insert(key.to_owned(), value);
    }
    Ok(vars)
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The value of a double-quoted body up to its closing quote, escapes applied; `None` when
/// the quote is not closed.
fn double_quoted(body: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other @ ('"' | '\\' | '$') => out.push(other),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

/// `${VAR}`, `${VAR:-default}` and `$VAR` of keys defined earlier; an unknown key is empty,
/// as compose leaves a variable the environment does not set.
fn interpolate(value: &str, vars: &BTreeMap<String, String>) -> String {
    match crate::yaml::interpolate_with(value, vars) {
        Ok(text) => text,
        Err(_) => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_compose_env_syntax() {
        let text = "# comment\n\nA=alpine:3.20\nexport B = 'lit $A'\nC=\"x\\\"y ${A}\"\nD=plain # note\nE=\nM=\"one\ntwo\"\nONLY\n";
        let vars = parse(text).unwrap();
        assert_eq!(vars["A"], "alpine:3.20");
        assert_eq!(vars["B"], "lit $A");
        assert_eq!(vars["C"], "x\"y alpine:3.20");
        assert_eq!(vars["D"], "plain");
        assert_eq!(vars["E"], "");
        assert_eq!(vars["M"], "one\ntwo");
        assert!(!vars.contains_key("ONLY"));
    }

    #[test]
    fn bad_lines_name_line_and_value() {
        assert_eq!(
            parse("A=1\nnot a pair\n").unwrap_err(),
            (2, "expected `KEY=value`, found `not a pair`".to_owned())
        );
        assert_eq!(
            parse("B@=1\n").unwrap_err(),
            (1, "invalid variable name `B@`".to_owned())
        );
        assert!(parse("C=\"open\n")
            .unwrap_err()
            .1
            .contains("missing closing"));
    }
}
