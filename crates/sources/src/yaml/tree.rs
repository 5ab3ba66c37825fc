//! A small YAML node tree that remembers where every scalar's text sits in the file.
//!
//! `pin` edits references in place, so each scalar carries the exact byte span of its value
//! when the source text equals the value (plain or quoted, single line, no escapes). The
//! tree is built from `saphyr-parser` events (whose markers count characters, converted here
//! to byte offsets), iteratively so deep nesting cannot overflow the stack. Aliases share the
//! anchored node (`Rc`), so an aliased scalar keeps the anchor's span, and lookups honour
//! merge keys (`<<: *base`).

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::lenient::{self, Shifts};
use super::scalar::{exact_span, skip_properties, source_span};

/// Deepest nesting accepted; deeper documents are refused instead of risking the stack.
const MAX_DEPTH: usize = 256;
/// How deep `<<` merges may chain (a mapping merging one that merges another, ...). A
/// deeper chain refuses the file when it is parsed, so a lookup never stops short and
/// silently drops what a deeper level holds.
const MAX_MERGE_DEPTH: usize = 256;

/// A YAML node.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    /// Byte span of the node as the parser reports it (properties and quotes included).
    pub(crate) span: Range<usize>,
    /// The tag written on the node, as written (`!reference`, `!!str`), if any.
    pub(crate) tag: Option<String>,
}

/// The three YAML node kinds.
#[derive(Debug)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Rc<Node>>),
    Map(Vec<(Rc<Node>, Rc<Node>)>),
}

/// A scalar value with what `pin` needs to know about its source text.
#[derive(Debug)]
pub(crate) struct Scalar {
    pub(crate) value: String,
    pub(crate) style: ScalarStyle,
    /// Whether a tag such as `!!str` was written.
    pub(crate) tagged: bool,
    /// Byte span of the value text when the source text is exactly the value.
    pub(crate) exact: Option<Range<usize>>,
    /// Byte span of the scalar's text as written (quotes included, properties and trailing
    /// comments not).
    pub(crate) source: Range<usize>,
}

/// The parser refused the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Byte offset of the error.
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// Where one parse of a (possibly repaired) text stopped, in that text's offsets.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: SyntaxError,
    /// Byte offset of the `[` or `{` opening the outermost flow collection still open.
    pub(crate) flow_start: Option<usize>,
}

impl Node {
    /// The scalar, if this is one.
    pub(crate) fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            Kind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar's value when it is a string (not null, bool or number).
    pub(crate) fn as_str(&self) -> Option<&str> {
        self.scalar()
            .filter(|s| s.is_string())
            .map(|s| s.value.as_str())
    }

    /// Whether the node is a mapping.
    pub(crate) fn is_map(&self) -> bool {
        matches!(self.kind, Kind::Map(_))
    }

    /// Whether the node is a null scalar (`~`, `null`, or nothing).
    pub(crate) fn is_null(&self) -> bool {
        self.scalar().is_some_and(Scalar::is_null)
    }

    /// Items of a sequence (empty for other nodes).
    pub(crate) fn items(&self) -> &[Rc<Node>] {
        match &self.kind {
            Kind::Seq(items) => items,
            _ => &[],
        }
    }

    /// The node at a path of mapping keys.
    pub(crate) fn at(&self, keys: &[&str]) -> Option<&Rc<Node>> {
        let (first, rest) = keys.split_first()?;
        let mut node = self.get(first)?;
        for key in rest {
            node = node.get(key)?;
        }
        Some(node)
    }

    /// The value of `key` in a mapping, own keys first, then merged (`<<`) mappings.
    pub(crate) fn get(&self, key: &str) -> Option<&Rc<Node>> {
        let Kind::Map(entries) = &self.kind else {
            return None;
        };
        if let Some(v) = own_value(entries, key) {
            return Some(v);
        }
        if !entries.iter().any(|(k, _)| is_merge_key(k)) {
            return None;
        }
        // Each merged mapping is searched once, so aliases repeated in merge lists cannot
        // make a lookup exponential.
        let mut visited = HashSet::from([std::ptr::from_ref(self)]);
        self.merged_get(key, &mut visited, 0)
    }

    /// Depth-first through `<<` sources in order: a source's own keys, then its merges.
    fn merged_get(
        &self,
        key: &str,
        visited: &mut HashSet<*const Node>,
        depth: usize,
    ) -> Option<&Rc<Node>> {
        let Kind::Map(entries) = &self.kind else {
            return None;
        };
        for (_, value) in entries.iter().filter(|(k, _)| is_merge_key(k)) {
            for source in merge_sources(value) {
                if !visited.insert(Rc::as_ptr(source)) {
                    continue;
                }
                let Kind::Map(source_entries) = &source.kind else {
                    continue;
                };
                if let Some(found) = own_value(source_entries, key) {
                    return Some(found);
                }
                if depth < MAX_MERGE_DEPTH {
                    if let Some(found) = source.merged_get(key, visited, depth + 1) {
                        return Some(found);
                    }
                }
            }
        }
        None
    }

    /// The entries of a mapping with string keys, merged mappings included (own keys win,
    /// then earlier merge sources). Empty for other nodes.
    pub(crate) fn entries(&self) -> Vec<(&str, &Rc<Node>)> {
        let mut out = Vec::new();
        let mut keys = HashSet::new();
        let mut visited = HashSet::new();
        self.collect_entries(&mut out, &mut keys, &mut visited, 0);
        out
    }

    fn collect_entries<'n>(
        &'n self,
        out: &mut Vec<(&'n str, &'n Rc<Node>)>,
        keys: &mut HashSet<&'n str>,
        visited: &mut HashSet<*const Node>,
        depth: usize,
    ) {
        let Kind::Map(entries) = &self.kind else {
            return;
        };
        if !visited.insert(std::ptr::from_ref(self)) {
            return;
        }
        let own: Vec<_> = entries.iter().filter(|(k, _)| !is_merge_key(k)).collect();
        // Last duplicate wins: walk backwards, keep the first seen, then restore order.
        let mut mine = Vec::new();
        for (k, v) in own.iter().rev() {
            if let Some(key) = k.key_str() {
                if keys.insert(key) {
                    mine.push((key, v));
                }
            }
        }
        mine.reverse();
        out.extend(mine);
        if depth >= MAX_MERGE_DEPTH {
            return;
        }
        for (_, v) in entries.iter().filter(|(k, _)| is_merge_key(k)) {
            for source in merge_sources(v) {
                source.collect_entries(out, keys, visited, depth + 1);
            }
        }
    }

    /// A mapping key as text (scalars only; `null`/numbers keep their written form).
    fn key_str(&self) -> Option<&str> {
        self.scalar().map(|s| s.value.as_str())
    }
}

/// A mapping's own value for `key`; the last duplicate wins, as in most loaders.
fn own_value<'n>(entries: &'n [(Rc<Node>, Rc<Node>)], key: &str) -> Option<&'n Rc<Node>> {
    entries
        .iter()
        .rev()
        .find(|(k, _)| !is_merge_key(k) && k.key_str() == Some(key))
        .map(|(_, v)| v)
}

fn is_merge_key(node: &Node) -> bool {
    node.scalar()
        .is_some_and(|s| s.style == ScalarStyle::Plain && s.value == "<<")
}

/// The mappings a `<<` value merges in: one mapping or a sequence of mappings.
fn merge_sources(value: &Rc<Node>) -> impl Iterator<Item = &Rc<Node>> {
    let list: Vec<&Rc<Node>> = match &value.kind {
        Kind::Map(_) => vec![value],
        Kind::Seq(items) => items.iter().filter(|n| n.is_map()).collect(),
        Kind::Scalar(_) => Vec::new(),
    };
    list.into_iter()
}

/// Maps the parser's character indices to byte offsets of `text`.
struct CharToByte {
    /// Byte offset of every character, plus the end; empty when the text is ASCII.
    offsets: Vec<usize>,
    len: usize,
}

impl CharToByte {
    fn new(text: &str) -> Self {
        let offsets = if text.is_ascii() {
            Vec::new()
        } else {
            text.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(text.len()))
                .collect()
        };
        Self {
            offsets,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.offsets.is_empty() {
            char_index.min(self.len)
        } else {
            self.offsets.get(char_index).copied().unwrap_or(self.len)
        }
    }
}

/// An open collection while events are read.
enum Frame {
    Seq {
        items: Vec<Rc<Node>>,
        start: usize,
        anchor: usize,
        flow: Option<usize>,
    },
    Map {
        entries: Vec<(Rc<Node>, Rc<Node>)>,
        key: Option<Rc<Node>>,
        start: usize,
        anchor: usize,
        flow: Option<usize>,
    },
}

/// Parses every document of `text` into a tree. Empty documents yield a null scalar.
///
/// The YAML spec decides first; what it refuses but libyaml reads is read as libyaml does
/// (see [`lenient`]).
pub(crate) fn parse_documents(text: &str) -> Result<Vec<Rc<Node>>, SyntaxError> {
    match build(text, text, &Shifts::default()) {
        Ok(docs) => Ok(docs),
        Err(failure) => lenient::parse(text, failure, |repaired, shifts| {
            build(repaired, text, shifts)
        }),
    }
}

/// Parses `parsed`, which is `original` with the spaces `shifts` records inserted; the
/// tree's spans index `original`, a failure's offsets index `parsed`.
fn build(parsed: &str, original: &str, shifts: &Shifts) -> Result<Vec<Rc<Node>>, Failure> {
    let text = parsed;
    let map = CharToByte::new(text);
    let mut docs = Vec::new();
    let mut anchors: HashMap<usize, Rc<Node>> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    // The tag of each open collection, beside `stack`.
    let mut open_tags: Vec<Option<String>> = Vec::new();
    // How deep each merging mapping's `<<` chain goes, by node.
    let mut merge_depths: HashMap<*const Node, usize> = HashMap::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| Failure {
            error: SyntaxError {
                offset: map.byte(e.marker().index()),
                message: e.info().to_owned(),
            },
            flow_start: stack.iter().find_map(Frame::flow),
        })?;
        let range = map.byte(span.start.index())
            ..map.byte(span.end.index()).max(map.byte(span.start.index()));
        let complete = match event {
            Event::DocumentStart(_) => {
                anchors.clear();
                None
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag = tag.map(|t| tag_text(&t));
                let written = Written {
                    parsed: text,
                    original,
                    shifts,
                };
                let node = scalar_node(&written, range, value.into_owned(), style, tag);
                Some((node, anchor))
            }
            // An alias to an anchor still open (a recursive structure) reads as null.
            Event::Alias(id) => Some((
                anchors
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| null_node(shifts.range(&range))),
                0,
            )),
            Event::SequenceStart(anchor, ref tag) | Event::MappingStart(anchor, ref tag) => {
                open_tags.push(tag.as_ref().map(|t| tag_text(t)));
                if stack.len() >= MAX_DEPTH {
                    return Err(Failure {
                        error: SyntaxError {
                            offset: range.start,
                            message: format!("nesting deeper than {MAX_DEPTH} levels"),
                        },
                        flow_start: None,
                    });
                }
                let seq = matches!(event, Event::SequenceStart(..));
                stack.push(Frame::open(seq, text, &range, shifts, anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => stack
                .pop()
                .map(|frame| frame.close(shifts.original(range.end), open_tags.pop().flatten())),
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => None,
        };
        let Some((node, anchor)) = complete else {
            continue;
        };
        check_merge_depth(&node, &mut merge_depths).map_err(|error| Failure {
            error,
            flow_start: None,
        })?;
        if anchor != 0 {
            anchors.insert(anchor, Rc::clone(&node));
        }
        match stack.last_mut() {
            Some(frame) => frame.add(node),
            None => docs.push(node),
        }
    }
    Ok(docs)
}

/// Records how deep a finished mapping's `<<` chain goes, refusing one deeper than
/// [`MAX_MERGE_DEPTH`]. Merge sources are always finished (an alias names a finished node).
fn check_merge_depth(
    node: &Rc<Node>,
    depths: &mut HashMap<*const Node, usize>,
) -> Result<(), SyntaxError> {
    let Kind::Map(entries) = &node.kind else {
        return Ok(());
    };
    let depth = entries
        .iter()
        .filter(|(k, _)| is_merge_key(k))
        .flat_map(|(_, v)| merge_sources(v))
        .map(|source| depths.get(&Rc::as_ptr(source)).map_or(1, |d| d + 1))
        .max();
    if let Some(depth) = depth {
        if depth > MAX_MERGE_DEPTH {
            return Err(SyntaxError {
                offset: node.span.start,
                message: format!("`<<` merge keys chain deeper than {MAX_MERGE_DEPTH} levels"),
            });
        }
        depths.insert(Rc::as_ptr(node), depth);
    }
    Ok(())
}

/// The offset of the `[` or `{` opening a collection whose event spans `range`, if it is a
/// flow collection.
fn flow_bracket(text: &str, range: &Range<usize>) -> Option<usize> {
    let raw = text.get(range.start..)?;
    let body = skip_properties(raw);
    body.starts_with(['[', '{'])
        .then(|| range.start + raw.len() - body.len())
}

impl Frame {
    /// A collection opened by an event spanning `range` of the parsed `text`.
    fn open(seq: bool, text: &str, range: &Range<usize>, shifts: &Shifts, anchor: usize) -> Self {
        let flow = flow_bracket(text, range);
        let start = shifts.original(range.start);
        if seq {
            Frame::Seq {
                items: Vec::new(),
                start,
                anchor,
                flow,
            }
        } else {
            Frame::Map {
                entries: Vec::new(),
                key: None,
                start,
                anchor,
                flow,
            }
        }
    }

    /// The finished node, ending at `end` of the original text, and its anchor.
    fn close(self, end: usize, tag: Option<String>) -> (Rc<Node>, usize) {
        let (kind, start, anchor) = match self {
            Frame::Seq {
                items,
                start,
                anchor,
                ..
            } => (Kind::Seq(items), start, anchor),
            Frame::Map {
                entries,
                start,
                anchor,
                ..
            } => (Kind::Map(entries), start, anchor),
        };
        let node = Node {
            kind,
            span: start..end.max(start),
            tag,
        };
        (Rc::new(node), anchor)
    }

    fn flow(&self) -> Option<usize> {
        match self {
            Frame::Seq { flow, .. } | Frame::Map { flow, .. } => *flow,
        }
    }

    /// Adds a finished child node to this open collection.
    fn add(&mut self, node: Rc<Node>) {
        match self {
            Frame::Seq { items, .. } => items.push(node),
            Frame::Map { entries, key, .. } => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
        }
    }
}

/// The text the parser read and the text as written.
struct Written<'t> {
    parsed: &'t str,
    original: &'t str,
    shifts: &'t Shifts,
}

/// A scalar whose event spans `span` of the parsed text, with spans in the original text.
fn scalar_node(
    text: &Written<'_>,
    span: Range<usize>,
    value: String,
    style: ScalarStyle,
    tag: Option<String>,
) -> Rc<Node> {
    let source = source_span(text.parsed, &span, style);
    let mut exact = exact_span(text.parsed, &source, &value, style);
    if !text.shifts.is_empty() {
        exact = exact
            .map(|r| text.shifts.range(&r))
            .filter(|r| text.original.get(r.clone()) == Some(value.as_str()));
    }
    Rc::new(Node {
        kind: Kind::Scalar(Scalar {
            value,
            style,
            tagged: tag.is_some(),
            exact,
            source: text.shifts.range(&source),
        }),
        span: text.shifts.range(&span),
        tag,
    })
}

fn null_node(span: Range<usize>) -> Rc<Node> {
    let scalar = Scalar {
        value: String::new(),
        style: ScalarStyle::Plain,
        tagged: false,
        exact: None,
        source: span.clone(),
    };
    Rc::new(Node {
        kind: Kind::Scalar(scalar),
        span,
        tag: None,
    })
}

/// A tag as written: `!reference` for the primary handle, `!!str` for the core schema.
fn tag_text(tag: &saphyr_parser::Tag) -> String {
    match tag.handle.as_str() {
        "!" => format!("!{}", tag.suffix),
        "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        handle => format!("{handle}{}", tag.suffix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Rc<Node> {
        parse_documents(text).unwrap().remove(0)
    }

    fn exact<'t>(text: &'t str, node: &Node) -> Option<&'t str> {
        node.scalar().unwrap().exact.clone().map(|r| &text[r])
    }

    #[test]
    fn exact_spans_of_plain_quoted_and_property_scalars() {
        let text = "a: plain # c\nb: \"dq é\" # c\nc: 'sq'  # c\nd: &x !!str \"t\"\ne: \"esc\\\"\"\nf: 'it''s'\ng: |\n  block\nh: two\n  lines\n";
        let root = doc(text);
        let get = |k: &str| exact(text, root.get(k).unwrap());
        assert_eq!(get("a"), Some("plain"));
        assert_eq!(get("b"), Some("dq é"));
        assert_eq!(get("c"), Some("sq"));
        assert_eq!(get("d"), Some("t"));
        assert_eq!(get("e"), None);
        assert_eq!(get("f"), None);
        assert_eq!(get("g"), None);
        assert_eq!(get("h"), None);
        let source = |k: &str| &text[root.get(k).unwrap().scalar().unwrap().source.clone()];
        assert_eq!(source("b"), "\"dq é\"");
        assert_eq!(source("e"), "\"esc\\\"\"");
        assert_eq!(source("f"), "'it''s'");
        assert_eq!(source("d"), "\"t\"");
        assert_eq!(source("g"), "block");
    }

    #[test]
    fn escaped_quote_is_not_mistaken_for_the_opening_quote() {
        // `"\"b"` is `"b`: the suffix `"b` matches but its leading quote is escaped.
        let text = "k: \"\\\"b\"\n";
        assert_eq!(exact(text, doc(text).get("k").unwrap()), None);
    }

    #[test]
    fn aliases_share_the_anchor_and_merge_keys_are_followed() {
        let text = "base: &b {image: x, n: 1}\nuse: *b\nm:\n  <<: [*b, {z: 2}]\n  n: 3\n";
        let root = doc(text);
        let alias = root.get("use").unwrap();
        assert!(Rc::ptr_eq(alias, root.get("base").unwrap()));
        let m = root.get("m").unwrap();
        assert_eq!(m.get("image").unwrap().as_str(), Some("x"));
        assert_eq!(m.get("n").unwrap().as_str(), None);
        assert_eq!(m.get("n").unwrap().scalar().unwrap().value, "3");
        let keys: Vec<_> = m.entries().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["n", "image", "z"]);
    }

    #[test]
    fn tags_are_kept_on_scalars_sequences_and_mappings() {
        let root = doc("a: !reference [.job, image]\nb: !custom {k: v}\nc: !!str 1\nd: plain\n");
        let tag = |key: &str| root.get(key).unwrap().tag.clone();
        assert_eq!(tag("a").as_deref(), Some("!reference"));
        assert_eq!(tag("b").as_deref(), Some("!custom"));
        assert_eq!(tag("c").as_deref(), Some("!!str"));
        assert_eq!(tag("d"), None);
        assert_eq!(root.get("a").unwrap().items()[0].tag, None);
    }

    #[test]
    fn char_indices_become_byte_offsets() {
        let text = "é: ñ\nk: vâlue\n";
        let root = doc(text);
        assert_eq!(exact(text, root.get("k").unwrap()), Some("vâlue"));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let text = "[".repeat(100_000);
        // The parser's own limit or ours, whichever comes first: an error, not a crash.
        let err = parse_documents(&text).unwrap_err();
        assert!(
            err.message.contains("nesting") || err.message.contains("recursion"),
            "{err:?}"
        );
    }

    #[test]
    fn repaired_constructs_keep_their_values_and_original_spans() {
        // Three constructs left of their block, each repaired; values as libyaml reads them.
        let text =
            "a:\n  b: [x,\n  y\n  ]\n  c: \"one\n  two\"\n  d: {k: 'v'}# c\n  e: [p,\nq]\n  f: z\n";
        let root = doc(text);
        let b = root.at(&["a", "b"]).unwrap();
        let items: Vec<_> = b.items().iter().map(|n| n.as_str().unwrap()).collect();
        assert_eq!(items, ["x", "y"]);
        assert_eq!(&text[b.span.clone()], "[x,\n  y\n  ]");
        let c = root.at(&["a", "c"]).unwrap().scalar().unwrap();
        assert_eq!(c.value, "one two");
        assert_eq!(&text[c.source.clone()], "\"one\n  two\"");
        assert_eq!(exact(text, root.at(&["a", "d", "k"]).unwrap()), Some("v"));
        assert_eq!(
            exact(text, &root.at(&["a", "e"]).unwrap().items()[1]),
            Some("q")
        );
        assert_eq!(exact(text, root.at(&["a", "f"]).unwrap()), Some("z"));
    }

    #[test]
    fn unrepairable_text_keeps_the_strict_error() {
        // The flow sequence is repaired, then the block error stays: the first error is told.
        let text = "a:\n  b: [x,\n  y]\n c: 1\n";
        let err = parse_documents(text).unwrap_err();
        assert_eq!(
            err.message, "invalid indentation in flow construct",
            "{err:?}"
        );
        assert!(err.offset < text.find(" c").unwrap(), "{err:?}");
    }

    #[test]
    fn syntax_error_offset_and_message() {
        let err = parse_documents("a: [b\nc: \"x").unwrap_err();
        assert!(!err.message.is_empty());
        assert!(err.offset <= 11);
    }
}
