//! Splits a Dockerfile into parser directives and logical instructions the way `BuildKit`'s
//! parser does: directives only at the top, `#` comments, continuation lines (with the
//! escape character chosen by `# escape=`), comment and blank lines inside continuations,
//! and heredoc bodies (which are data, never instructions). Byte offsets into the original
//! text are kept for every piece so spans point at the file as written.

use std::ops::Range;

/// A parser directive such as `# syntax=docker/dockerfile:1`.
#[derive(Debug)]
pub(super) struct Directive {
    /// Lower-case directive name.
    pub name: String,
    /// Byte span of the value.
    pub value: Range<usize>,
}

/// One instruction joined from its physical lines, with a map back to original offsets.
#[derive(Debug)]
pub(super) struct Logical {
    pub text: String,
    /// `(logical start, original start)` of each joined piece, ascending.
    pieces: Vec<(usize, usize)>,
}

impl Logical {
    fn push(&mut self, original: &str, at: usize) {
        self.pieces.push((self.text.len(), at));
        self.text.push_str(original);
    }

    /// Original byte offset of logical byte `i` (or of the end when `i == text.len()`).
    pub(super) fn orig(&self, i: usize) -> usize {
        let k = self
            .pieces
            .partition_point(|&(l, _)| l <= i)
            .saturating_sub(1);
        let (l, o) = self.pieces.get(k).copied().unwrap_or((0, 0));
        o + (i - l)
    }
}

/// An instruction: lower-case keyword and the logical offset where its arguments start.
#[derive(Debug)]
pub(super) struct Instruction {
    pub keyword: String,
    pub args_start: usize,
    pub logical: Logical,
    /// Original byte offset of the keyword.
    pub start: usize,
}

/// The lexed file.
#[derive(Debug, Default)]
pub(super) struct Lexed {
    pub directives: Vec<Directive>,
    pub escape: char,
    pub instructions: Vec<Instruction>,
    /// `(byte offset, message)` of syntax errors `BuildKit` would reject the file for.
    pub problems: Vec<(usize, String)>,
    /// Comment lines (parser directives included, heredoc bodies not), from the `#` to the
    /// end of the line.
    pub comments: Vec<Range<usize>>,
}

/// Physical lines as byte ranges without their `\n`/`\r\n` terminators.
fn lines(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices('\n') {
        out.push(start..trim_cr(text, start, i));
        start = i + 1;
    }
    if start < text.len() {
        out.push(start..trim_cr(text, start, text.len()));
    }
    out
}

fn trim_cr(text: &str, start: usize, end: usize) -> usize {
    start + text[start..end].trim_end_matches(['\r', '\n']).len()
}

/// Parses `#name=value` (`BuildKit`'s `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`).
fn directive(line: &str, at: usize) -> Option<Directive> {
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\x0c' | '\x0b' | '\r');
    let rest = line.strip_prefix('#')?.trim_start_matches(is_space);
    let name_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let name = &rest[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_len..]
        .trim_start_matches(is_space)
        .strip_prefix('=')?
        .trim_start_matches(is_space);
    let value = value.trim_end_matches(is_space);
    if value.is_empty() {
        return None;
    }
    let start = at + (value.as_ptr() as usize - line.as_ptr() as usize);
    Some(Directive {
        name: name.to_ascii_lowercase(),
        value: start..start + value.len(),
    })
}

/// Splits `line` at a trailing escape character (followed only by blanks): the kept part and
/// whether the instruction continues on the next line.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(kept) => (kept, true),
        None => (line, false),
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Lexes a whole Dockerfile.
pub(super) fn lex(text: &str) -> Lexed {
    let lines = lines(text);
    let mut out = Lexed {
        escape: '\\',
        ..Lexed::default()
    };
    let mut i = 0;
    let mut directives_done = false;
    while i < lines.len() {
        let range = lines[i].clone();
        i += 1;
        let raw = &text[range.clone()];
        let line = raw.trim_start();
        let at = range.end - line.len();
        if !directives_done {
            directives_done = !directive_line(&mut out, text, line, at);
        }
        if line.starts_with('#') {
            out.comments.push(at..range.end);
            continue;
        }
        let (first, mut continues) = trim_continuation(line, out.escape);
        if first.trim().is_empty() && !continues {
            continue;
        }
        let mut logical = Logical {
            text: String::new(),
            pieces: Vec::new(),
        };
        logical.push(first, at);
        while continues && i < lines.len() {
            let range = lines[i].clone();
            i += 1;
            let raw = &text[range.clone()];
            if is_comment(raw) {
                out.comments
                    .push(range.end - raw.trim_start().len()..range.end);
                continue;
            }
            if raw.trim().is_empty() {
                continue;
            }
            let (kept, more) = trim_continuation(raw, out.escape);
            logical.push(kept, range.start);
            continues = more;
        }
        let trimmed = logical.text.trim_start();
        let lead = logical.text.len() - trimmed.len();
        if trimmed.is_empty() {
            continue;
        }
        let kw_len = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let keyword = trimmed[..kw_len].to_ascii_lowercase();
        let args_start = lead + kw_len;
        let start = logical.orig(lead);
        let heredocs =
            if matches!(keyword.as_str(), "run" | "copy" | "add") && logical.text.contains("<<") {
                heredoc_names(&logical.text[args_start..])
            } else {
                Vec::new()
            };
        out.instructions.push(Instruction {
            keyword,
            args_start,
            logical,
            start,
        });
        for (name, chomp) in heredocs {
            if !skip_heredoc(text, &lines, &mut i, &name, chomp) {
                out.problems
                    .push((start, format!("unterminated heredoc `{name}`")));
                break;
            }
        }
    }
    out
}

/// Records `line` if it is a parser directive; `false` once directives are over.
fn directive_line(out: &mut Lexed, text: &str, line: &str, at: usize) -> bool {
    let Some(d) = directive(line, at) else {
        return false;
    };
    if out.directives.iter().any(|seen| seen.name == d.name) {
        return false;
    }
    if d.name == "escape" {
        match &text[d.value.clone()] {
            "\\" => out.escape = '\\',
            "`" => out.escape = '`',
            other => {
                let message = format!("invalid escape token `{other}`: must be ` or \\");
                out.problems.push((d.value.start, message));
            }
        }
    }
    if !matches!(d.name.as_str(), "escape" | "syntax" | "check") {
        return false;
    }
    out.directives.push(d);
    true
}

/// Skips a heredoc body up to its terminator line; `false` when the file ends first.
fn skip_heredoc(
    text: &str,
    lines: &[Range<usize>],
    i: &mut usize,
    name: &str,
    chomp: bool,
) -> bool {
    while let Some(range) = lines.get(*i) {
        *i += 1;
        let body = &text[range.clone()];
        let candidate = if chomp {
            body.trim_start_matches('\t')
        } else {
            body
        };
        if candidate == name {
            return true;
        }
    }
    false
}

/// Heredoc terminators introduced on an instruction line (`<<EOF`, `<<-EOF`, `<<"EOF"`,
/// `3<<EOF`), in order, with whether leading tabs are stripped (`<<-`).
pub(super) fn heredoc_names(line: &str) -> Vec<(String, bool)> {
    raw_words(line)
        .into_iter()
        .filter_map(|word| {
            let rest = word
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .strip_prefix("<<")?;
            let (chomp, rest) = match rest.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            if rest.is_empty() || rest.contains('<') {
                return None;
            }
            let name = unquote(rest);
            (!name.is_empty()).then_some((name, chomp))
        })
        .collect()
}

/// Whitespace-separated words with quotes kept (quoted blanks do not split).
fn raw_words(line: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quote = None;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(_) => {}
            None if c.is_whitespace() => {
                if let Some(s) = start.take() {
                    words.push(&line[s..i]);
                }
            }
            None => {
                start.get_or_insert(i);
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == '\\' {
                    chars.next();
                }
            }
        }
    }
    if let Some(s) = start {
        words.push(&line[s..]);
    }
    words
}

/// Removes shell quotes and backslash escapes.
fn unquote(word: &str) -> String {
    let mut out = String::new();
    let mut quote = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None | Some('"'), '\\') => out.extend(chars.next()),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords(text: &str) -> Vec<String> {
        lex(text)
            .instructions
            .iter()
            .map(|i| i.keyword.clone())
            .collect()
    }

    #[test]
    fn directives_stop_at_first_other_line() {
        let text = "# syntax=docker/dockerfile:1\n#escape=`\n\n# syntax=other\nFROM a\n";
        let lexed = lex(text);
        let names: Vec<_> = lexed.directives.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["syntax", "escape"]);
        assert_eq!(
            &text[lexed.directives[0].value.clone()],
            "docker/dockerfile:1"
        );
        assert_eq!(lexed.escape, '`');
    }

    #[test]
    fn continuation_joins_lines_skipping_comments_and_blanks() {
        let text = "RUN a \\\n# comment\n\n    b \\  \n c\nFROM x\n";
        let lexed = lex(text);
        assert_eq!(lexed.instructions.len(), 2);
        let run = &lexed.instructions[0];
        assert_eq!(run.logical.text, "RUN a     b  c");
        let b = run.logical.text.find('b').unwrap();
        assert_eq!(&text[run.logical.orig(b)..=run.logical.orig(b)], "b");
        let c = run.logical.text.find('c').unwrap();
        assert_eq!(&text[run.logical.orig(c)..=run.logical.orig(c)], "c");
    }

    #[test]
    fn comments_are_whole_lines_outside_heredocs() {
        let text = "# a\nFROM x # not a comment\nRUN <<EOF\n# body\nEOF\nRUN a \\\n  # b\n  c\n";
        let comments: Vec<&str> = lex(text)
            .comments
            .iter()
            .map(|r| &text[r.clone()])
            .collect();
        assert_eq!(comments, ["# a", "# b"]);
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let text = "RUN <<EOF cat <<-'TWO'\nFROM evil\nEOF\n\tFROM evil2\n\tTWO\nFROM ok\n";
        assert_eq!(keywords(text), ["run", "from"]);
        assert!(lex(text).problems.is_empty());
    }

    #[test]
    fn unterminated_heredoc_is_a_problem() {
        let lexed = lex("RUN <<EOF\nFROM x\n");
        assert_eq!(lexed.instructions.len(), 1);
        assert!(lexed.problems[0].1.contains("`EOF`"));
    }

    #[test]
    fn heredoc_names_follow_buildkit_words() {
        assert_eq!(heredoc_names("<<EOF"), [("EOF".to_owned(), false)]);
        assert_eq!(heredoc_names("3<<-\"E O\" x"), [("E O".to_owned(), true)]);
        assert!(heredoc_names("echo '<<EOF'").is_empty());
        assert!(heredoc_names("<<").is_empty());
    }
}
