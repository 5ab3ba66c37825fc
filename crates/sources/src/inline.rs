//! Inline waiver comments. A comment whose text starts with `portcullis:` must read
//!
//! ```text
//! # portcullis: ignore RULE[,RULE…] [until YYYY-MM-DD] -- REASON
//! ```
//!
//! (`ignore`, the comma-separated rule codes, an optional `until` date, then ` -- ` and the
//! reason, which is required). This module splits such a comment into its parts, each with
//! its location; which comments exist and which lines each one concerns is for the format
//! (the Dockerfile lexer, the YAML reader) to say. The values themselves (is this a rule
//! code, is this a date) are judged by the policy.

use std::ops::{Range, RangeInclusive};

use portcullis_reference::inline::{CommentError, InlineComment, InlineIgnore, Part};
use portcullis_reference::source::Location;

use crate::text::LineIndex;

/// The word that makes a comment an inline waiver.
const MARKER: &str = "portcullis";

/// Whether `text` may hold an inline waiver at all; files without the marker skip the
/// comment search entirely.
pub(crate) fn may_hold(text: &str) -> bool {
    text.contains(MARKER)
}

/// Calls `f` on the location of `comment` and of each of its parts.
pub(crate) fn each_location(comment: &mut InlineComment, mut f: impl FnMut(&mut Location)) {
    f(&mut comment.location);
    match &mut comment.parsed {
        Ok(parts) => {
            for part in parts
                .rules
                .iter_mut()
                .chain(parts.until.as_mut())
                .chain(std::iter::once(&mut parts.reason))
            {
                f(&mut part.location);
            }
        }
        Err(error) => f(&mut error.location),
    }
}

/// Reads the comment whose `#` is at byte `hash` and which ends at byte `end` (its line's
/// end) as an inline waiver concerning `lines`; `None` when it is another comment.
pub(crate) fn read(
    file: &str,
    index: &LineIndex<'_>,
    text: &str,
    hash: usize,
    end: usize,
    lines: RangeInclusive<u32>,
) -> Option<InlineComment> {
    let body = &text[hash + 1..end];
    let lead = body.len() - body.trim_start().len();
    let start = hash + 1 + lead;
    let after = text[start..end].strip_prefix(MARKER)?;
    let colon = after.trim_start_matches([' ', '\t']);
    if !colon.starts_with(':') {
        return None;
    }
    let end = start + text[start..end].trim_end().len();
    let rest_start = end.min(start + MARKER.len() + (after.len() - colon.len()) + 1);
    Some(InlineComment {
        location: index.location(file, start..end),
        lines,
        parsed: Grammar { file, index, text }.parse(rest_start, end, start..end),
    })
}

/// A whitespace-separated word of the comment.
#[derive(Debug, Clone, Copy)]
struct Token<'t> {
    text: &'t str,
    start: usize,
}

impl Token<'_> {
    fn range(&self) -> Range<usize> {
        self.start..self.start + self.text.len()
    }
}

struct Grammar<'a> {
    file: &'a str,
    index: &'a LineIndex<'a>,
    text: &'a str,
}

impl Grammar<'_> {
    fn error(&self, range: Range<usize>, message: String) -> CommentError {
        CommentError {
            location: self.index.location(self.file, range),
            message,
        }
    }

    fn part(&self, range: Range<usize>) -> Part {
        Part {
            text: self.text[range.clone()].to_owned(),
            location: self.index.location(self.file, range),
        }
    }

    fn tokens(&self, start: usize, end: usize) -> Vec<Token<'_>> {
        let mut out = Vec::new();
        let mut word = None;
        for (i, c) in self.text[start..end].char_indices() {
            if c.is_whitespace() {
                if let Some(s) = word.take() {
                    out.push(Token {
                        text: &self.text[s..start + i],
                        start: s,
                    });
                }
            } else if word.is_none() {
                word = Some(start + i);
            }
        }
        if let Some(s) = word {
            out.push(Token {
                text: &self.text[s..end],
                start: s,
            });
        }
        out
    }

    /// Parses `ignore RULE[,RULE…] [until DATE] -- REASON` written at `start..end`;
    /// `comment` is the whole comment, for errors about what is missing.
    fn parse(
        &self,
        start: usize,
        end: usize,
        comment: Range<usize>,
    ) -> Result<InlineIgnore, CommentError> {
        const EXAMPLE: &str = "`# portcullis: ignore digest-not-pinned -- vendor image`";
        let tokens = self.tokens(start, end);
        let Some(first) = tokens.first() else {
            return Err(self.error(
                comment,
                format!(
                    "`portcullis:` must be followed by `ignore RULE -- REASON`, as in {EXAMPLE}"
                ),
            ));
        };
        if first.text != "ignore" {
            return Err(self.error(
                first.range(),
                format!(
                    "expected `ignore` after `portcullis:`, found `{}` (write {EXAMPLE})",
                    first.text
                ),
            ));
        }
        let separator = tokens.iter().position(|t| t.text == "--");
        let (head, reason) = match separator {
            Some(i) => (&tokens[1..i], &tokens[i + 1..]),
            None => (&tokens[1..], &[][..]),
        };
        let (Some(reason_first), Some(reason_last)) = (reason.first(), reason.last()) else {
            return Err(self.error(
                comment,
                format!(
                    "`{}`: an inline waiver needs a reason after ` -- `, as in {EXAMPLE}",
                    &self.text[start..end]
                ),
            ));
        };
        let reason = self.part(reason_first.start..reason_last.range().end);
        let until_at = head
            .iter()
            .position(|t| t.text == "until")
            .unwrap_or(head.len());
        let (rule_tokens, until_tokens) = head.split_at(until_at);
        let rules = self.rules(rule_tokens, first)?;
        let until = match until_tokens {
            [] => None,
            [word] => {
                return Err(self.error(
                    word.range(),
                    "`until` needs a date like `2027-01-31`".to_owned(),
                ))
            }
            [_, date] => Some(self.part(date.range())),
            [_, _, extra, ..] => {
                return Err(self.error(
                    extra.range(),
                    format!(
                        "unexpected `{}` after the `until` date (the reason follows ` -- `)",
                        extra.text
                    ),
                ))
            }
        };
        Ok(InlineIgnore {
            rules,
            until,
            reason,
        })
    }

    /// The comma-separated rule codes written as `tokens` (after `ignore`).
    fn rules(&self, tokens: &[Token<'_>], ignore: &Token<'_>) -> Result<Vec<Part>, CommentError> {
        let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
            return Err(self.error(
                ignore.range(),
                "`ignore` needs at least one rule code, as in `ignore digest-not-pinned`"
                    .to_owned(),
            ));
        };
        let region = first.start..last.range().end;
        let mut rules = Vec::new();
        let mut piece_start = region.start;
        let text = &self.text[region.clone()];
        let pieces = text
            .match_indices(',')
            .map(|(i, _)| region.start + i)
            .chain(std::iter::once(region.end));
        for piece_end in pieces {
            let piece = &self.text[piece_start..piece_end];
            let lead = piece.len() - piece.trim_start().len();
            let trimmed = piece.trim();
            let at = piece_start + lead;
            if trimmed.is_empty() {
                return Err(self.error(
                    piece_end.min(region.end - 1)..piece_end.min(region.end - 1) + 1,
                    format!("empty rule code in `{text}`"),
                ));
            }
            if let Some(space) = trimmed.find(char::is_whitespace) {
                let extra = trimmed[space..].trim_start();
                let extra_at = at + (trimmed.len() - extra.len());
                let word = extra.split(char::is_whitespace).next().unwrap_or(extra);
                return Err(self.error(
                    extra_at..extra_at + word.len(),
                    format!(
                        "unexpected `{word}` after the rule `{}` (separate rule codes with `,`; the reason follows ` -- `)",
                        &trimmed[..space]
                    ),
                ));
            }
            rules.push(self.part(at..at + trimmed.len()));
            piece_start = piece_end + 1;
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(line: &str) -> Option<InlineComment> {
        let index = LineIndex::new(line);
        let hash = line.find('#').unwrap();
        read("Dockerfile", &index, line, hash, line.len(), 2..=2)
    }

    fn ok(line: &str) -> InlineIgnore {
        comment(line).unwrap().parsed.unwrap()
    }

    fn err(line: &str) -> CommentError {
        comment(line).unwrap().parsed.unwrap_err()
    }

    fn texts(parts: &[Part]) -> Vec<&str> {
        parts.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn the_full_form_gives_every_part_with_its_column() {
        let line = "# portcullis: ignore digest-not-pinned,image-not-allowed until 2027-01-31 -- vendor base, pinned by the vendor  ";
        let found = comment(line).unwrap();
        assert_eq!(found.location.column, 3);
        assert_eq!(found.lines, 2..=2);
        let parts = found.parsed.unwrap();
        assert_eq!(
            texts(&parts.rules),
            ["digest-not-pinned", "image-not-allowed"]
        );
        assert_eq!(parts.rules[1].location.column, 40);
        assert_eq!(parts.until.unwrap().text, "2027-01-31");
        assert_eq!(parts.reason.text, "vendor base, pinned by the vendor");
    }

    #[test]
    fn spacing_is_free_and_the_reason_may_hold_dashes() {
        let parts = ok("#portcullis : ignore  tag-denied ,  digest-not-pinned -- a -- b");
        assert_eq!(texts(&parts.rules), ["tag-denied", "digest-not-pinned"]);
        assert!(parts.until.is_none());
        assert_eq!(parts.reason.text, "a -- b");
        assert_eq!(ok("#\tportcullis:ignore tag-denied -- r").reason.text, "r");
    }

    #[test]
    fn other_comments_are_not_waivers() {
        for line in [
            "# hadolint ignore=DL3006",
            "# portcullis is our gate",
            "# see portcullis: docs",
            "# Portcullis: ignore tag-denied -- r",
        ] {
            assert!(comment(line).is_none(), "{line}");
        }
    }

    #[test]
    fn every_bad_form_names_the_offending_text() {
        for (line, offending, column) in [
            (
                "# portcullis:",
                "`portcullis:` must be followed by `ignore",
                3,
            ),
            ("# portcullis: skip tag-denied -- r", "found `skip`", 15),
            ("# portcullis: ignore tag-denied", "needs a reason", 3),
            ("# portcullis: ignore tag-denied --", "needs a reason", 3),
            ("# portcullis: ignore tag-denied --   ", "needs a reason", 3),
            (
                "# portcullis: ignore tag-denied -reason",
                "needs a reason",
                3,
            ),
            ("# portcullis: ignore -- r", "at least one rule code", 15),
            (
                "# portcullis: ignore until 2027-01-01 -- r",
                "at least one rule code",
                15,
            ),
            (
                "# portcullis: ignore tag-denied until -- r",
                "`until` needs a date",
                33,
            ),
            (
                "# portcullis: ignore tag-denied until 2027-01-01 x -- r",
                "unexpected `x` after the `until` date",
                50,
            ),
            (
                "# portcullis: ignore tag-denied please -- r",
                "unexpected `please` after the rule `tag-denied`",
                33,
            ),
            (
                "# portcullis: ignore tag-denied,,x -- r",
                "empty rule code in `tag-denied,,x`",
                33,
            ),
            (
                "# portcullis: ignore tag-denied, -- r",
                "empty rule code",
                32,
            ),
        ] {
            let error = err(line);
            assert!(
                error.message.contains(offending),
                "{line}: {}",
                error.message
            );
            assert_eq!(error.location.column, column, "{line}: {}", error.message);
            assert_eq!(error.location.line, 1);
        }
    }
}
