//! Variable expansion in Dockerfile words, following `BuildKit`'s shell lexer: quotes, the
//! escape character, `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?msg}`. Instead of silently expanding a variable that has no value
//! to an empty string (what a build would do), the first such variable is reported, because
//! a reference whose value is unknown cannot be checked.

use super::words::{Piece, NO_SOURCE};

/// What a variable is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lookup {
    /// Declared with a value.
    Value(String),
    /// Declared without a value; the payload names the variable to report.
    NoValue(String),
    /// Not declared at all (empty in a build).
    Undeclared,
}

/// The expanded word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Expanded {
    /// The value; bytes that came from variables have no source offset.
    pub value: Piece,
    /// The first variable without a value that the result depends on.
    pub unresolved: Option<String>,
    /// Whether the word contains any `$` expansion.
    pub uses_variables: bool,
}

/// Deeper `${a:-${b:-...}}` nesting than this is refused (no stack overflow on hostile input).
const MAX_DEPTH: usize = 64;

/// Expands `word`; `Err` carries a `BuildKit`-style syntax error.
pub(super) fn expand(
    word: &Piece,
    escape: char,
    lookup: &dyn Fn(&str) -> Lookup,
) -> Result<Expanded, String> {
    let mut lexer = Lexer {
        word,
        pos: 0,
        escape,
        lookup,
        unresolved: None,
        uses_variables: false,
        depth: 0,
    };
    let value = lexer.until(None)?;
    Ok(Expanded {
        value,
        unresolved: lexer.unresolved,
        uses_variables: lexer.uses_variables,
    })
}

/// The variable name when `text` is exactly `$NAME` or `${NAME}`.
pub(super) fn single_variable(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('$')?;
    let name = rest
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(rest);
    let valid = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    valid.then_some(name)
}

struct Lexer<'a> {
    word: &'a Piece,
    pos: usize,
    escape: char,
    lookup: &'a dyn Fn(&str) -> Lookup,
    unresolved: Option<String>,
    uses_variables: bool,
    depth: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.word.text[self.pos..].chars().next()
    }

    /// The next char and the file offset it was written at.
    fn next(&mut self) -> Option<(char, usize)> {
        let c = self.peek()?;
        let src = self.word.src[self.pos];
        self.pos += c.len_utf8();
        Some((c, src))
    }

    fn unresolved(&mut self, name: &str) {
        if self.unresolved.is_none() {
            self.unresolved = Some(name.to_owned());
        }
    }

    /// Processes until `stop` (consumed) or the end of the word.
    fn until(&mut self, stop: Option<char>) -> Result<Piece, String> {
        let mut out = Piece::default();
        loop {
            let Some((c, src)) = self.next() else {
                return match stop {
                    Some(s) => Err(format!("missing `{s}`")),
                    None => Ok(out),
                };
            };
            match c {
                c if Some(c) == stop => return Ok(out),
                '\'' => loop {
                    match self.next() {
                        Some(('\'', _)) => break,
                        Some((c, src)) => out.push_char(c, src),
                        None => return Err("missing closing `'`".to_owned()),
                    }
                },
                '"' => self.double_quoted(&mut out)?,
                '$' => {
                    let value = self.dollar(src)?;
                    out.append(value);
                }
                c if c == self.escape => {
                    if let Some((c, src)) = self.next() {
                        out.push_char(c, src);
                    }
                }
                c => out.push_char(c, src),
            }
        }
    }

    fn double_quoted(&mut self, out: &mut Piece) -> Result<(), String> {
        loop {
            match self.next() {
                None => return Err("missing closing `\"`".to_owned()),
                Some(('"', _)) => return Ok(()),
                Some(('$', src)) => {
                    let value = self.dollar(src)?;
                    out.append(value);
                }
                Some((c, src)) if c == self.escape => match self.peek() {
                    None => {}
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        let (n, src) = self.next().unwrap_or((n, NO_SOURCE));
                        out.push_char(n, src);
                    }
                    Some(_) => out.push_char(c, src),
                },
                Some((c, src)) => out.push_char(c, src),
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        let digits = self.peek().is_some_and(|c| c.is_ascii_digit());
        while let Some(c) = self.peek() {
            let ok = if digits {
                c.is_ascii_digit()
            } else {
                c.is_alphanumeric() || c == '_'
            };
            if !ok {
                break;
            }
            name.push(c);
            self.pos += c.len_utf8();
        }
        name
    }

    /// After a `$` written at `dollar`.
    fn dollar(&mut self, dollar: usize) -> Result<Piece, String> {
        if self.peek() != Some('{') {
            let name = self.name();
            let mut out = Piece::default();
            if name.is_empty() {
                out.push_char('$', dollar);
                return Ok(out);
            }
            self.uses_variables = true;
            match (self.lookup)(&name) {
                Lookup::Value(v) => out.push_unsourced(&v),
                Lookup::NoValue(root) => self.unresolved(&root),
                Lookup::Undeclared => self.unresolved(&name),
            }
            return Ok(out);
        }
        self.pos += 1;
        self.uses_variables = true;
        if matches!(self.peek(), None | Some('{' | '}' | ':')) {
            return Err("bad substitution".to_owned());
        }
        let name = self.name();
        if name.is_empty() {
            return Err("bad substitution".to_owned());
        }
        let lookup = (self.lookup)(&name);
        let value = match &lookup {
            Lookup::Value(v) => Some(v.as_str()),
            _ => None,
        };
        let mut out = Piece::default();
        let Some((modifier, _)) = self.next() else {
            return Err("missing `}`".to_owned());
        };
        let (colon, modifier) = if modifier == ':' {
            let Some((m, _)) = self.next() else {
                return Err("missing `}`".to_owned());
            };
            (true, m)
        } else {
            (false, modifier)
        };
        // `set` for `-`/`+`/`?`; `set and not empty` with a colon.
        let set = value.is_some_and(|v| !colon || !v.is_empty());
        match modifier {
            '}' if !colon => match lookup {
                Lookup::Value(v) => out.push_unsourced(&v),
                Lookup::NoValue(root) => self.unresolved(&root),
                Lookup::Undeclared => self.unresolved(&name),
            },
            '-' | '+' | '?' => {
                let word = self.nested_word()?;
                match (modifier, set) {
                    ('-' | '?', true) => out.push_unsourced(value.unwrap_or_default()),
                    ('-', false) | ('+', true) => {
                        if let Some(inner) = word.1 {
                            self.unresolved(&inner);
                        }
                        out = word.0;
                    }
                    ('?', false) => self.unresolved(&name),
                    _ => {}
                }
            }
            '#' | '%' | '/' if !colon => {
                // Pattern removal/replacement: computed only for plain text patterns.
                let greedy = self.peek() == Some(modifier);
                if greedy {
                    self.pos += 1;
                }
                let (pattern, inner) = self.nested_word()?;
                let plain = !pattern.text.contains(['*', '?', '[', '/']) && inner.is_none();
                match value {
                    Some(v) if plain && modifier == '#' => {
                        out.push_unsourced(v.strip_prefix(&*pattern.text).unwrap_or(v));
                    }
                    Some(v) if plain && modifier == '%' => {
                        out.push_unsourced(v.strip_suffix(&*pattern.text).unwrap_or(v));
                    }
                    _ => self.unresolved(&name),
                }
            }
            m => return Err(format!("unsupported modifier `{m}` in substitution")),
        }
        Ok(out)
    }

    /// The word of a `${NAME<op>word}` up to the closing brace, with the first unresolved
    /// variable inside it kept apart (it matters only when the word is used).
    fn nested_word(&mut self) -> Result<(Piece, Option<String>), String> {
        if self.depth >= MAX_DEPTH {
            return Err("substitutions nested too deeply".to_owned());
        }
        self.depth += 1;
        let saved = self.unresolved.take();
        let word = self.until(Some('}'));
        let inner = std::mem::replace(&mut self.unresolved, saved);
        self.depth -= 1;
        Ok((word?, inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(text: &str) -> Piece {
        Piece {
            text: text.to_owned(),
            src: (0..text.len()).collect(),
        }
    }

    fn env(name: &str) -> Lookup {
        match name {
            "A" => Lookup::Value("alpine".into()),
            "EMPTY" => Lookup::Value(String::new()),
            "NODEF" => Lookup::NoValue("NODEF".into()),
            _ => Lookup::Undeclared,
        }
    }

    fn run(text: &str) -> (String, Option<String>) {
        let e = expand(&piece(text), '\\', &env).unwrap();
        (e.value.text, e.unresolved)
    }

    #[test]
    fn expands_like_buildkit() {
        assert_eq!(run("$A:3"), ("alpine:3".into(), None));
        assert_eq!(run("${A}:3"), ("alpine:3".into(), None));
        assert_eq!(run("${X:-debian}"), ("debian".into(), None));
        assert_eq!(run("${EMPTY:-debian}"), ("debian".into(), None));
        assert_eq!(run("${EMPTY-debian}"), (String::new(), None));
        assert_eq!(run("${X-debian}"), ("debian".into(), None));
        assert_eq!(run("${A:+x}"), ("x".into(), None));
        assert_eq!(run("${X:+x}"), (String::new(), None));
        assert_eq!(run("${NODEF:-${A}}"), ("alpine".into(), None));
        assert_eq!(run("${A:-$NODEF}"), ("alpine".into(), None));
        assert_eq!(run("${A#al}"), ("pine".into(), None));
        assert_eq!(run("'$A'\"$A\"\\$A"), ("$Aalpine$A".into(), None));
        assert_eq!(run("a$"), ("a$".into(), None));
    }

    #[test]
    fn missing_values_are_reported() {
        assert_eq!(run("$X").1.as_deref(), Some("X"));
        assert_eq!(run("${NODEF}").1.as_deref(), Some("NODEF"));
        assert_eq!(run("${X:-$NODEF}").1.as_deref(), Some("NODEF"));
        assert_eq!(run("${X:?need}").1.as_deref(), Some("X"));
    }

    #[test]
    fn syntax_errors_are_errors() {
        for bad in ["${", "${}", "${A", "${A:-x", "${A!}", "\"abc", "'abc"] {
            assert!(expand(&piece(bad), '\\', &env).is_err(), "{bad}");
        }
        let deep = "${A:-".repeat(1000);
        assert!(expand(&piece(&deep), '\\', &env).is_err());
    }

    #[test]
    fn literal_bytes_keep_their_offsets() {
        let e = expand(&piece("\"nginx\""), '\\', &env).unwrap();
        assert_eq!(e.value.verbatim("\"nginx\""), Some(1..6));
        assert!(!e.uses_variables);
        let e = expand(&piece("$A"), '\\', &env).unwrap();
        assert_eq!(e.value.verbatim("$A"), None);
        assert!(e.uses_variables);
    }

    #[test]
    fn single_variable_forms() {
        assert_eq!(single_variable("$BASE"), Some("BASE"));
        assert_eq!(single_variable("${BASE}"), Some("BASE"));
        assert_eq!(single_variable("${BASE}:1"), None);
        assert_eq!(single_variable("${BASE:-x}"), None);
    }
}
