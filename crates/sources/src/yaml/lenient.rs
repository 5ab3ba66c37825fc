//! What libyaml accepts beyond the YAML spec, for files that docker compose, kubectl (both
//! on go-yaml, a port of libyaml) and GitLab (libyaml) read without complaint.
//!
//! `saphyr-parser` follows the spec to the letter: it refuses a flow collection or a quoted
//! scalar whose continuation lines are not indented past the enclosing block (a `]` under
//! its key), and a `#` comment that touches the token before it (`"value"# note`). libyaml
//! reads both. When the strict parse fails with one of these errors, the text is repaired
//! without changing any value (spaces added before a continuation line of the construct,
//! where the spec strips leading white space anyway, or before the `#`), parsed again, and
//! every offset is mapped back to the text as written. Anything else stays an error, with
//! the strict parser's message and offset.

use std::collections::BTreeMap;
use std::ops::Range;
use std::rc::Rc;

use super::tree::{Failure, Node, SyntaxError};

/// Constructs repaired in one file at most; each needs one more parse of the whole file.
const MAX_REPAIRS: usize = 64;
/// Bytes parsed again at most for one file, so a large file gets fewer repairs.
const MAX_REPARSED: usize = 256 * 1024 * 1024;

/// Spaces inserted into the text as written, so offsets in the repaired text can be mapped
/// back.
#[derive(Debug, Default)]
pub(super) struct Shifts {
    /// `(offset in the repaired text where the run starts, offset in the original text,
    /// spaces inserted before it and in it)`, by offset.
    runs: Vec<(usize, usize, usize)>,
}

impl Shifts {
    fn new(inserts: &BTreeMap<usize, usize>) -> Self {
        let mut before = 0;
        let runs = inserts
            .iter()
            .map(|(&at, &len)| {
                let run = (at + before, at, before + len);
                before += len;
                run
            })
            .collect();
        Self { runs }
    }

    /// The original offset of `offset` in the repaired text (an inserted space maps to the
    /// place it was inserted at).
    pub(super) fn original(&self, offset: usize) -> usize {
        let i = self.runs.partition_point(|&(start, _, _)| start <= offset);
        let Some(&(start, at, through)) = i.checked_sub(1).and_then(|i| self.runs.get(i)) else {
            return offset;
        };
        let before = if i >= 2 { self.runs[i - 2].2 } else { 0 };
        let len = through - before;
        if offset < start + len {
            at
        } else {
            offset - through
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    pub(super) fn range(&self, range: &Range<usize>) -> Range<usize> {
        let start = self.original(range.start);
        start..self.original(range.end).max(start)
    }
}

/// After the strict parse of `text` failed with `failure`: repairs what libyaml accepts and
/// parses again with `build`, up to [`MAX_REPAIRS`] times (fewer for files larger than
/// [`MAX_REPARSED`] / [`MAX_REPAIRS`]), as long as each repair gets the parser further. The
/// error is the strict one when the text cannot be repaired.
pub(super) fn parse(
    text: &str,
    failure: Failure,
    build: impl Fn(&str, &Shifts) -> Result<Vec<Rc<Node>>, Failure>,
) -> Result<Vec<Rc<Node>>, SyntaxError> {
    let strict = failure.error.clone();
    let mut failure = failure;
    let mut inserts: BTreeMap<usize, usize> = BTreeMap::new();
    let mut repaired = text.to_owned();
    let mut shifts = Shifts::default();
    let attempts = MAX_REPAIRS.min(MAX_REPARSED / text.len().max(1));
    let mut reached = strict.offset;
    for _ in 0..attempts {
        let fixes = repairs(&repaired, &failure);
        if fixes.is_empty() {
            break;
        }
        for (at, len) in fixes {
            *inserts.entry(shifts.original(at)).or_default() += len;
        }
        shifts = Shifts::new(&inserts);
        repaired = insert_spaces(text, &inserts);
        match build(&repaired, &shifts) {
            Ok(docs) => return Ok(docs),
            Err(next) => failure = next,
        }
        let at = shifts.original(failure.error.offset);
        if at <= reached {
            break;
        }
        reached = at;
    }
    Err(strict)
}

fn insert_spaces(text: &str, inserts: &BTreeMap<usize, usize>) -> String {
    let mut out = String::with_capacity(text.len() + inserts.values().sum::<usize>());
    let mut last = 0;
    for (&at, &len) in inserts {
        out.push_str(&text[last..at]);
        out.extend(std::iter::repeat_n(' ', len));
        last = at;
    }
    out.push_str(&text[last..]);
    out
}

/// The spaces to insert (offset in `text`, count) that let the strict parser past
/// `failure`, if it is one libyaml would not have raised.
fn repairs(text: &str, failure: &Failure) -> Vec<(usize, usize)> {
    let offset = failure.error.offset;
    let message = failure.error.message.as_str();
    // The messages of saphyr-parser 0.3; the regression tests fail if they change.
    if message == "comments must be separated from other tokens by whitespace" {
        return match text.get(offset..) {
            Some(rest) if rest.starts_with('#') => vec![(offset, 1)],
            _ => Vec::new(),
        };
    }
    if message == "invalid indentation in quoted scalar" {
        // The offset is the opening quote.
        let Some(quote @ ('"' | '\'')) = text.get(offset..).and_then(|r| r.chars().next()) else {
            return Vec::new();
        };
        let end = quoted_end(text, offset, quote);
        return pad_lines(text, offset + 1..end, column(text, offset));
    }
    if message.starts_with("invalid indentation") {
        // Only inside a flow collection: the block structure is not for us to guess.
        let Some(open) = failure.flow_start else {
            return Vec::new();
        };
        let from = line_start(text, offset.min(text.len())).max(open + 1);
        let end = flow_end(text, open).unwrap_or_else(|| line_end(text, from));
        return pad_lines(text, from..end, column(text, open));
    }
    Vec::new()
}

/// Spaces that indent every line starting inside `range` to at least `column`, except
/// blank lines and document markers.
fn pad_lines(text: &str, range: Range<usize>, column: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = line_start(text, range.start);
    if start < range.start {
        start = line_end(text, range.start) + 1;
    }
    while start < range.end && start < text.len() {
        let line = &text[start..line_end(text, start)];
        let indent = line.len() - line.trim_start_matches(' ').len();
        let marker = (line.starts_with("---") || line.starts_with("..."))
            && line[3..].chars().next().is_none_or(char::is_whitespace);
        if indent < column && !line.trim().is_empty() && !marker {
            out.push((start, column - indent));
        }
        start += line.len() + 1;
    }
    out
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(text: &str, offset: usize) -> usize {
    text[offset..].find('\n').map_or(text.len(), |i| offset + i)
}

/// Characters before `offset` on its line.
fn column(text: &str, offset: usize) -> usize {
    text[line_start(text, offset)..offset].chars().count()
}

/// The offset after the quote closing the scalar opened at `open` (the end of the text when
/// it is not closed).
fn quoted_end(text: &str, open: usize, quote: char) -> usize {
    let mut chars = text[open + 1..].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' && quote == '"' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
            } else {
                return open + 1 + i + 1;
            }
        }
    }
    text.len()
}

/// The offset after the bracket closing the flow collection opened at `open`, skipping
/// quoted scalars and comments.
fn flow_end(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut token_start = true;
    let mut i = open;
    while let Some(c) = text[i..].chars().next() {
        let next = match c {
            '#' if token_start => line_end(text, i),
            '"' | '\'' if token_start => quoted_end(text, i, c),
            _ => i + c.len_utf8(),
        };
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(next);
                }
            }
            _ => {}
        }
        token_start = matches!(c, ' ' | '\t' | '\n' | '\r' | '[' | '{' | ',' | ':');
        i = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_map_repaired_offsets_back() {
        // "ab\ncd" with two spaces before `c` and one before `d`: "ab\n  c d".
        let inserts = BTreeMap::from([(3, 2), (4, 1)]);
        assert_eq!(insert_spaces("ab\ncd", &inserts), "ab\n  c d");
        let shifts = Shifts::new(&inserts);
        let original: Vec<_> = (0..=8).map(|i| shifts.original(i)).collect();
        assert_eq!(original, [0, 1, 2, 3, 3, 3, 4, 4, 5]);
    }

    #[test]
    fn flow_end_skips_quotes_and_comments() {
        let text = "[a, \"]\", 'x'']', # ]\n [b]] tail";
        assert_eq!(flow_end(text, 0), Some(text.len() - " tail".len()));
        assert_eq!(flow_end("[a, [b", 0), None);
    }

    #[test]
    fn pad_lines_skips_blank_lines_and_markers() {
        let text = "k: [\nx,\n\n  y,\n---\n]";
        assert_eq!(pad_lines(text, 4..text.len(), 3), [(5, 3), (9, 1), (18, 3)]);
    }
}
