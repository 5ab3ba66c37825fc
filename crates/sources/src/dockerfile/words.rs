//! Words of an instruction with the original byte offset of every byte, so that a value
//! taken apart by flag parsing, quote removal or CSV splitting still knows where it was
//! written. Splitting follows `BuildKit`'s `extractBuilderFlags`, `parseWords` and the
//! whitespace split used for `FROM`.

use std::ops::Range;

use super::lexer::Logical;

/// Marks a byte that does not come from the file (e.g. a variable's value).
pub(super) const NO_SOURCE: usize = usize::MAX;

/// Text plus, for each byte, its offset in the original file (or [`NO_SOURCE`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Piece {
    pub text: String,
    pub src: Vec<usize>,
}

impl Piece {
    pub(super) fn push_char(&mut self, c: char, src: usize) {
        self.text.push(c);
        for k in 0..c.len_utf8() {
            self.src
                .push(if src == NO_SOURCE { NO_SOURCE } else { src + k });
        }
    }

    /// Appends text that does not come from the file.
    pub(super) fn push_unsourced(&mut self, text: &str) {
        self.text.push_str(text);
        self.src.extend(std::iter::repeat_n(NO_SOURCE, text.len()));
    }

    pub(super) fn append(&mut self, other: Piece) {
        self.text.push_str(&other.text);
        self.src.extend(other.src);
    }

    /// Bytes `range` of the text (on char boundaries).
    pub(super) fn slice(&self, range: Range<usize>) -> Piece {
        Piece {
            text: self.text[range.clone()].to_owned(),
            src: self.src[range].to_vec(),
        }
    }

    /// The logical bytes `range` of an instruction.
    pub(super) fn from_logical(logical: &Logical, range: Range<usize>) -> Piece {
        let (first, last) = (
            logical.orig(range.start),
            logical.orig(range.end.saturating_sub(1).max(range.start)),
        );
        let src = if last - first + 1 == range.len() {
            // Within one physical line: offsets are consecutive.
            (first..first + range.len()).collect()
        } else {
            range.clone().map(|i| logical.orig(i)).collect()
        };
        Piece {
            text: logical.text[range].to_owned(),
            src,
        }
    }

    /// The span of `text` (the whole file) where this piece is written verbatim, if it is.
    pub(super) fn verbatim(&self, file: &str) -> Option<Range<usize>> {
        let first = *self.src.first()?;
        if first == NO_SOURCE || self.src.iter().enumerate().any(|(i, &s)| s != first + i) {
            return None;
        }
        let span = first..first + self.text.len();
        (file.get(span.clone()) == Some(self.text.as_str())).then_some(span)
    }

    /// The span from the first to the last byte that comes from the file.
    pub(super) fn extent(&self) -> Option<Range<usize>> {
        let first = *self.src.iter().find(|&&s| s != NO_SOURCE)?;
        let last = *self.src.iter().rev().find(|&&s| s != NO_SOURCE)?;
        Some(first..last + 1)
    }
}

/// Leading `--flag[=value]` words (quotes and backslashes removed, as `BuildKit`'s
/// `extractBuilderFlags` does) and the logical offset where the arguments start.
pub(super) fn extract_flags(logical: &Logical, start: usize) -> (Vec<Piece>, usize) {
    let text = &logical.text;
    let mut words = Vec::new();
    let mut at = start;
    // Words without quotes or backslashes are taken whole; the first word with either goes
    // to the character-by-character reading, which handles the rest of the line.
    loop {
        let rest = text[at..].trim_start();
        at = text.len() - rest.len();
        if !rest.starts_with("--") {
            return (words, if rest.is_empty() { text.len() } else { at });
        }
        let end = rest
            .find(char::is_whitespace)
            .map_or(text.len(), |k| at + k);
        let word = &text[at..end];
        if word.contains(['\'', '"', '\\']) {
            return extract_quoted_flags(logical, at, words);
        }
        if word == "--" {
            return (words, end);
        }
        words.push(Piece::from_logical(logical, at..end));
        at = end;
    }
}

/// [`extract_flags`] from `start` on, one character at a time: quotes and backslashes
/// removed, quoted whitespace kept.
fn extract_quoted_flags(
    logical: &Logical,
    start: usize,
    mut words: Vec<Piece>,
) -> (Vec<Piece>, usize) {
    let text = &logical.text;
    let mut word = Piece::default();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = text[start..].char_indices().map(|(i, c)| (i + start, c));
    while let Some((i, c)) = chars.next() {
        if !in_word {
            if c.is_whitespace() {
                continue;
            }
            if c != '-' || !text[i + 1..].starts_with('-') {
                return (words, i);
            }
            in_word = true;
        }
        if let Some(q) = quote {
            if c == q {
                quote = None;
                continue;
            }
            let (c, at) = if c == '\\' {
                let Some(next) = chars.next() else {
                    quote = None;
                    continue;
                };
                (next.1, next.0)
            } else {
                (c, i)
            };
            word.push_char(c, logical.orig(at));
            continue;
        }
        if c.is_whitespace() {
            in_word = false;
            if word.text == "--" {
                return (words, i);
            }
            if blank_ok || !word.text.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            word = Piece::default();
            blank_ok = false;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            blank_ok = true;
            continue;
        }
        let (c, at) = if c == '\\' {
            let Some(next) = chars.next() else { continue };
            (next.1, next.0)
        } else {
            (c, i)
        };
        word.push_char(c, logical.orig(at));
    }
    if in_word && word.text != "--" && (blank_ok || !word.text.is_empty()) {
        words.push(word);
    }
    (words, text.len())
}

/// Splits `--name=value` into the name and the value (empty for `--name`).
pub(super) fn flag(word: &Piece) -> Option<(&str, Piece)> {
    let body = word.text.strip_prefix("--")?;
    match body.find('=') {
        Some(eq) => Some((&body[..eq], word.slice(2 + eq + 1..word.text.len()))),
        None => Some((body, Piece::default())),
    }
}

/// Logical ranges of the words separated by whitespace, quotes not special (`BuildKit`'s
/// split for `FROM`).
pub(super) fn split_whitespace(logical: &Logical, start: usize) -> Vec<Range<usize>> {
    let text = &logical.text[start..];
    let mut out = Vec::new();
    let mut word_start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), word_start) {
            (true, Some(s)) => {
                out.push(start + s..start + i);
                word_start = None;
            }
            (false, None) => word_start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = word_start {
        out.push(start + s..logical.text.len());
    }
    out
}

/// Words separated by whitespace outside quotes, quotes and escapes kept (`BuildKit`'s
/// `parseWords`, used for `ARG name=value ...`).
pub(super) fn split_quoted(logical: &Logical, start: usize, escape: char) -> Vec<Piece> {
    let text = &logical.text[start..];
    let mut out = Vec::new();
    let mut word_start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                } else if c == escape && q != '\'' {
                    chars.next();
                }
            }
            None if c.is_whitespace() => {
                if let Some(s) = word_start.take() {
                    out.push(Piece::from_logical(logical, start + s..start + i));
                }
            }
            None => {
                word_start.get_or_insert(i);
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == escape {
                    chars.next();
                }
            }
        }
    }
    if let Some(s) = word_start {
        out.push(Piece::from_logical(logical, start + s..logical.text.len()));
    }
    out
}

/// Comma-separated fields with `"` quoting (`""` is a quote), as Go's `encoding/csv` reads
/// a `--mount=` value.
pub(super) fn csv_fields(value: &Piece) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut field = Piece::default();
    let mut quoted = false;
    let mut at_field_start = true;
    let mut chars = value.text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let src = value.src[i];
        if quoted {
            if c == '"' {
                if chars.peek().is_some_and(|&(_, n)| n == '"') {
                    let (j, _) = chars.next().unwrap_or((i, c));
                    field.push_char('"', value.src[j]);
                } else {
                    quoted = false;
                }
            } else {
                field.push_char(c, src);
            }
            continue;
        }
        match c {
            ',' => {
                out.push(std::mem::take(&mut field));
                at_field_start = true;
                continue;
            }
            '"' if at_field_start => quoted = true,
            _ => field.push_char(c, src),
        }
        at_field_start = false;
    }
    out.push(field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical(text: &str) -> Logical {
        super::super::lexer::lex(text)
            .instructions
            .remove(0)
            .logical
    }

    #[test]
    fn flags_are_unquoted_with_original_offsets() {
        let text = "COPY --from=\"img:1\" --chown=a src dst";
        let l = logical(text);
        let (flags, rest) = extract_flags(&l, 4);
        assert_eq!(flags.len(), 2);
        let (name, value) = flag(&flags[0]).unwrap();
        assert_eq!((name, value.text.as_str()), ("from", "img:1"));
        assert_eq!(&text[value.verbatim(text).unwrap()], "img:1");
        assert_eq!(&l.text[rest..], "src dst");
    }

    #[test]
    fn whole_words_read_as_the_character_reading_does() {
        for text in [
            "RUN --mount=type=cache,target=/root/.cache go build",
            "COPY --from=builder --chown=1:1 /a /b",
            "COPY \\\n  --from=base \\\n  /a /b",
            "RUN --network=none",
            "RUN --network=none   ",
            "RUN -- --x",
            "RUN --",
            "RUN --a --b=\"c d\" e",
            "RUN --a=é\u{2003}--b=ü x",
            "RUN -x --y",
            "RUN",
        ] {
            let l = logical(text);
            let start = l.text.find(' ').unwrap_or(l.text.len());
            assert_eq!(
                extract_flags(&l, start),
                extract_quoted_flags(&l, start, Vec::new()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn double_dash_ends_flags() {
        let l = logical("RUN --mount=a -- --notaflag");
        let (flags, rest) = extract_flags(&l, 3);
        assert_eq!(flags.len(), 1);
        assert_eq!(l.text[rest..].trim(), "--notaflag");
    }

    #[test]
    fn quoted_words_keep_quotes() {
        let l = logical("ARG A=\"x y\" B='z' C");
        let words: Vec<_> = split_quoted(&l, 3, '\\')
            .into_iter()
            .map(|p| p.text)
            .collect();
        assert_eq!(words, ["A=\"x y\"", "B='z'", "C"]);
    }

    #[test]
    fn csv_fields_unquote() {
        // Flag parsing already removed one level of quotes; these are the CSV ones.
        let text = "type=bind,\"from=a,b\",target=/x";
        let value = Piece {
            text: text.to_owned(),
            src: (0..text.len()).collect(),
        };
        let fields = csv_fields(&value);
        let texts: Vec<_> = fields.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["type=bind", "from=a,b", "target=/x"]);
        assert_eq!(&text[fields[1].verbatim(text).unwrap()], "from=a,b");
    }
}
