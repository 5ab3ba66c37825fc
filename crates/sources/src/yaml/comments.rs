//! Where YAML comments are: a `#` at the start of a line or after a blank, outside every
//! scalar (quoted scalars and block scalars hold `#` as text). The scalars' spans come from
//! the parsed tree, so the parser, not a second lexer, decides what is text.

use std::collections::HashSet;
use std::ops::Range;
use std::rc::Rc;

use portcullis_reference::inline::InlineComment;

use super::tree::{self, Kind, Node};
use crate::inline;
use crate::text::LineIndex;
use crate::SourceFile;

/// The inline waiver comments of a YAML file: a trailing comment concerns its own line, a
/// comment alone on its line the first line below it that is not a comment too. A file
/// that does not parse has none (it is reported as invalid anyway).
pub(crate) fn inline_comments(file: &SourceFile, text: &str) -> Vec<InlineComment> {
    let Ok(docs) = tree::parse_documents(text) else {
        return Vec::new();
    };
    let comments = Comments {
        text,
        scalars: scalar_spans(&docs),
    };
    let lines = line_ranges(text);
    let index = LineIndex::new(text);
    // For each line, the first line at or below it that is not only a comment (one pass
    // from the bottom, so a long run of comment lines is not walked once per comment).
    let mut code_below = vec![lines.len(); lines.len() + 1];
    for (i, range) in lines.iter().enumerate().rev() {
        code_below[i] = if comments.only_comment(range) {
            code_below[i + 1]
        } else {
            i
        };
    }
    let mut out = Vec::new();
    for (i, range) in lines.iter().enumerate() {
        if !inline::may_hold(&text[range.clone()]) {
            continue;
        }
        let Some(hash) = comments.start(range) else {
            continue;
        };
        let alone = text[range.start..hash].trim().is_empty();
        let target = if alone { code_below[i + 1] } else { i };
        let number = u32::try_from(target + 1).unwrap_or(u32::MAX);
        #[allow(clippy::reversed_empty_ranges)]
        let concerned = if target < lines.len() {
            number..=number
        } else {
            1..=0
        };
        out.extend(inline::read(
            &file.rel, &index, text, hash, range.end, concerned,
        ));
    }
    out
}

struct Comments<'t> {
    text: &'t str,
    /// Disjoint, sorted by start.
    scalars: Vec<Range<usize>>,
}

impl Comments<'_> {
    /// The byte offset of the `#` starting a comment on the line `range`, if any.
    fn start(&self, range: &Range<usize>) -> Option<usize> {
        let line = &self.text[range.clone()];
        line.match_indices('#')
            .map(|(i, _)| range.start + i)
            .find(|&at| {
                let after_blank =
                    at == range.start || matches!(self.text.as_bytes()[at - 1], b' ' | b'\t');
                after_blank && !self.in_scalar(at)
            })
    }

    /// Whether the line `range` holds a comment and nothing else.
    fn only_comment(&self, range: &Range<usize>) -> bool {
        self.start(range)
            .is_some_and(|hash| self.text[range.start..hash].trim().is_empty())
    }

    fn in_scalar(&self, at: usize) -> bool {
        let i = self.scalars.partition_point(|s| s.start <= at);
        i > 0 && at < self.scalars[i - 1].end
    }
}

/// Every scalar's source span (keys included), each node visited once however many
/// aliases reach it.
fn scalar_spans(docs: &[Rc<Node>]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut seen: HashSet<*const Node> = HashSet::new();
    let mut stack: Vec<&Rc<Node>> = docs.iter().collect();
    while let Some(node) = stack.pop() {
        if !seen.insert(Rc::as_ptr(node)) {
            continue;
        }
        match &node.kind {
            Kind::Scalar(scalar) => spans.push(scalar.source.clone()),
            Kind::Seq(items) => stack.extend(items),
            Kind::Map(entries) => {
                for (key, value) in entries {
                    stack.push(key);
                    stack.push(value);
                }
            }
        }
    }
    spans.sort_by_key(|s| (s.start, s.end));
    spans
}

/// Physical lines as byte ranges without their terminators.
fn line_ranges(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices('\n') {
        out.push(start..start + text[start..i].trim_end_matches('\r').len());
        start = i + 1;
    }
    if start < text.len() {
        out.push(start..text.len());
    }
    out
}
