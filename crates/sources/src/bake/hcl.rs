//! A small reader for the subset of HCL that bake files use: blocks with labels
//! (`target "app" { … }`), attributes, strings with `${…}` templates, heredocs, lists and
//! objects. Any other expression (references, function calls, `for` expressions,
//! conditionals) is kept as its text, [`Expr::Raw`], for the evaluator (`eval`) to try;
//! portcullis reads image references, paths and args, and keeps the byte span of every
//! string so `pin` can write into it.

use std::ops::Range;

use super::{Block, Body, Expr};

/// Deeper nesting than this is refused (no stack overflow on hostile input).
const MAX_DEPTH: usize = 64;

/// A syntax error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// Parses a whole file.
pub(crate) fn parse(text: &str) -> Result<Body, SyntaxError> {
    let mut reader = Reader {
        text,
        pos: 0,
        depth: 0,
    };
    let body = reader.body()?;
    reader.skip_blank(true);
    if reader.pos < text.len() {
        return Err(reader.error(format!("unexpected `{}`", reader.peek_char())));
    }
    Ok(body)
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, message: String) -> SyntaxError {
        SyntaxError {
            offset: self.pos,
            message,
        }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn peek_char(&self) -> char {
        self.rest().chars().next().unwrap_or('\0')
    }

    /// Skips spaces and comments, and newlines when `newlines`.
    fn skip_blank(&mut self, newlines: bool) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches(|c: char| {
                c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')
            });
            self.pos += rest.len() - trimmed.len();
            let rest = self.rest();
            if rest.starts_with('#') || rest.starts_with("//") {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if rest.starts_with("/*") {
                self.pos += rest.find("*/").map_or(rest.len(), |i| i + 2);
            } else {
                return;
            }
        }
    }

    fn ident(&mut self) -> Option<String> {
        let rest = self.rest();
        let first = rest.chars().next()?;
        if !(first.is_alphabetic() || first == '_') {
            return None;
        }
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        self.pos += len;
        Some(rest[..len].to_owned())
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply".to_owned()));
        }
        Ok(())
    }

    /// Attributes and blocks until `}` or the end.
    fn body(&mut self) -> Result<Body, SyntaxError> {
        self.enter()?;
        let mut body = Body::default();
        loop {
            self.skip_blank(true);
            if self.rest().is_empty() || self.rest().starts_with('}') {
                self.depth -= 1;
                return Ok(body);
            }
            let start = self.pos;
            let Some(name) = self.ident() else {
                return Err(self.error(format!(
                    "expected an attribute or a block, found `{}`",
                    self.peek_char()
                )));
            };
            self.skip_blank(false);
            if self.rest().starts_with('=') && !self.rest().starts_with("==") {
                self.pos += 1;
                self.skip_blank(false);
                let value = self.expr()?;
                body.attrs.push((name, value));
                continue;
            }
            let mut labels = Vec::new();
            loop {
                self.skip_blank(false);
                if self.rest().starts_with('{') {
                    break;
                }
                if self.rest().starts_with('"') {
                    let (value, _, _) = self.string()?;
                    labels.push(value);
                } else if let Some(label) = self.ident() {
                    labels.push(label);
                } else {
                    return Err(self.error(format!(
                        "expected `=` or `{{` after `{name}`, found `{}`",
                        self.peek_char()
                    )));
                }
            }
            self.pos += 1;
            let inner = self.body()?;
            if !self.rest().starts_with('}') {
                return Err(self.error(format!("missing `}}` closing block `{name}`")));
            }
            self.pos += 1;
            body.blocks.push(Block {
                kind: name,
                labels,
                body: inner,
                offset: start,
            });
        }
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        let rest = self.rest();
        let value = if self.comprehension() {
            self.skip_expression()?;
            return Ok(Expr::Raw(self.text[start..self.pos].trim().to_owned()));
        } else if rest.starts_with('"') {
            let (value, span, exact) = self.string()?;
            Expr::Str { value, span, exact }
        } else if rest.starts_with("<<") {
            self.heredoc()?
        } else if rest.starts_with('[') {
            self.pos += 1;
            self.enter()?;
            let mut items = Vec::new();
            loop {
                self.skip_blank(true);
                if self.rest().starts_with(']') {
                    self.pos += 1;
                    break;
                }
                if self.rest().is_empty() {
                    return Err(self.error("missing `]`".to_owned()));
                }
                items.push(self.expr()?);
                self.skip_blank(true);
                if self.rest().starts_with(',') {
                    self.pos += 1;
                }
            }
            self.depth -= 1;
            Expr::List(items)
        } else if rest.starts_with('{') {
            self.pos += 1;
            self.enter()?;
            let mut entries = Vec::new();
            loop {
                self.skip_blank(true);
                if self.rest().starts_with('}') {
                    self.pos += 1;
                    break;
                }
                let key = if self.rest().starts_with('"') {
                    self.string()?.0
                } else if let Some(key) = self.ident() {
                    key
                } else {
                    return Err(self.error(format!(
                        "expected an object key, found `{}`",
                        self.peek_char()
                    )));
                };
                self.skip_blank(false);
                if !(self.rest().starts_with('=') || self.rest().starts_with(':')) {
                    return Err(self.error(format!("expected `=` after key `{key}`")));
                }
                self.pos += 1;
                self.skip_blank(true);
                let value = self.expr()?;
                entries.push((key, value));
                self.skip_blank(true);
                if self.rest().starts_with(',') {
                    self.pos += 1;
                }
            }
            self.depth -= 1;
            Expr::Object(entries)
        } else {
            self.skip_expression()?;
            let raw = self.text[start..self.pos].trim();
            if raw.is_empty() {
                return Err(self.error(format!("expected a value, found `{}`", self.peek_char())));
            }
            let plain = raw.parse::<f64>().is_ok() || raw == "true" || raw == "false";
            return Ok(if plain {
                Expr::Other(Some(raw.to_owned()))
            } else {
                Expr::Raw(raw.to_owned())
            });
        };
        // A value followed by an operator is part of a larger expression.
        self.skip_blank(false);
        if self.rest().is_empty() || self.rest().starts_with(['\n', ',', '}', ']', ')']) {
            Ok(value)
        } else {
            self.skip_expression()?;
            Ok(Expr::Raw(self.text[start..self.pos].trim().to_owned()))
        }
    }

    /// Whether a `for` expression (`[for …]`, `{for …}`) starts here.
    fn comprehension(&self) -> bool {
        let rest = self.rest();
        if !rest.starts_with(['[', '{']) {
            return false;
        }
        let inner = rest[1..].trim_start();
        inner.starts_with("for") && inner[3..].starts_with(|c: char| c.is_whitespace())
    }

    /// Skips an expression this reader does not evaluate: up to a newline, `,` or closing
    /// bracket outside brackets and strings.
    fn skip_expression(&mut self) -> Result<(), SyntaxError> {
        let mut stack: Vec<char> = Vec::new();
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return if stack.is_empty() {
                    Ok(())
                } else {
                    Err(self.error("unclosed bracket".to_owned()))
                };
            };
            match c {
                '"' => {
                    self.string()?;
                    continue;
                }
                '(' | '[' | '{' => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.error("nested too deeply".to_owned()));
                    }
                    stack.push(c);
                }
                ')' | ']' | '}' | '\n' | ',' if stack.is_empty() => return Ok(()),
                ')' | ']' | '}' => {
                    stack.pop();
                }
                '#' => {
                    self.skip_blank(false);
                    continue;
                }
                _ => {}
            }
            self.pos += c.len_utf8();
        }
    }

    /// A quoted template at `pos`: its value (escapes applied, `${…}` kept as written), the
    /// span of the text between the quotes, and whether that text is the value verbatim.
    fn string(&mut self) -> Result<(String, Range<usize>, bool), SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        let mut value = String::new();
        let mut exact = true;
        let mut braces = 0usize;
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                self.pos = open;
                return Err(self.error("missing closing `\"`".to_owned()));
            };
            if c == '\n' && braces == 0 {
                self.pos = open;
                return Err(
                    self.error("missing closing `\"` before the end of the line".to_owned())
                );
            }
            if braces == 0 && c == '"' {
                let span = start..self.pos;
                self.pos += 1;
                return Ok((value, span, exact));
            }
            if rest.starts_with("${") || rest.starts_with("%{") {
                braces += 1;
                value.push_str(&rest[..2]);
                self.pos += 2;
                continue;
            }
            if braces > 0 && c == '}' {
                braces -= 1;
            }
            if braces > 0 && c == '"' {
                // A string inside a template expression.
                let (inner, _, _) = self.string()?;
                value.push('"');
                value.push_str(&inner);
                value.push('"');
                continue;
            }
            if c == '\\' && braces == 0 {
                exact = false;
                let Some(next) = rest[1..].chars().next() else {
                    self.pos = open;
                    return Err(self.error("missing closing `\"`".to_owned()));
                };
                self.pos += 1 + next.len_utf8();
                match next {
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    'u' | 'U' => {
                        let len = if next == 'u' { 4 } else { 8 };
                        let hex = self.rest().get(..len).unwrap_or_default();
                        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                            Some(c) => value.push(c),
                            None => {
                                return Err(self.error(format!("invalid escape `\\{next}{hex}`")))
                            }
                        }
                        self.pos += len;
                    }
                    other => value.push(other),
                }
                continue;
            }
            value.push(c);
            self.pos += c.len_utf8();
        }
    }

    /// `<<EOT` or `<<-EOT` up to the line holding only `EOT`.
    fn heredoc(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.pos;
        let header = self.rest().split('\n').next().unwrap_or_default();
        let marker = header
            .trim_start_matches("<<")
            .trim_start_matches('-')
            .trim();
        if marker.is_empty() {
            return Err(self.error("heredoc without a marker".to_owned()));
        }
        self.pos = (self.pos + header.len() + 1).min(self.text.len());
        let body_start = self.pos;
        let mut offset = body_start;
        for line in self.text[body_start..].split_inclusive('\n') {
            if line.trim() == marker {
                self.pos = offset + line.trim_end_matches('\n').len();
                let value = self.text[body_start..offset].to_owned();
                return Ok(Expr::Str {
                    value,
                    span: body_start..offset,
                    exact: false,
                });
            }
            offset += line.len();
        }
        self.pos = start;
        Err(self.error(format!("heredoc `{marker}` is not closed")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_blocks_attributes_and_values_with_spans() {
        let text = r#"
# comment
variable "TAG" { default = "1.22" }
target "app" {
  context = "."   // trailing
  contexts = {
    base = "docker-image://golang:${TAG}"
    "src": "./src",
  }
  args = { A = "x\"y", N = 3, F = lower("X") }
  tags = ["a", "b"]
  platforms = cond ? ["x"] : []
  /* block
     comment */
  dockerfile-inline = <<EOT
FROM alpine
EOT
}
"#;
        let body = parse(text).unwrap();
        assert_eq!(body.blocks.len(), 2);
        let target = &body.blocks[1];
        assert_eq!(
            (target.kind.as_str(), target.labels.as_slice()),
            ("target", &["app".to_owned()][..])
        );
        let Some(Expr::Object(contexts)) = target.body.get("contexts") else {
            panic!("{target:?}")
        };
        let Expr::Str { value, span, exact } = &contexts[0].1 else {
            panic!()
        };
        assert_eq!(value, "docker-image://golang:${TAG}");
        assert_eq!(&text[span.clone()], value);
        assert!(exact);
        assert_eq!(contexts[1].0, "src");
        let Some(Expr::Object(args)) = target.body.get("args") else {
            panic!()
        };
        assert!(matches!(&args[0].1, Expr::Str { value, exact: false, .. } if value == "x\"y"));
        assert_eq!(args[1].1, Expr::Other(Some("3".into())));
        assert_eq!(args[2].1, Expr::Raw("lower(\"X\")".into()));
        assert_eq!(
            target.body.get("platforms"),
            Some(&Expr::Raw(r#"cond ? ["x"] : []"#.into()))
        );
        assert!(matches!(
            target.body.get("dockerfile-inline"),
            Some(Expr::Str { .. })
        ));
    }

    #[test]
    fn for_expressions_and_references_are_kept_as_text() {
        let text = r#"
plats = { "3.21" : common, "edge": [for p in common : p] }
target "a" {
  matrix = {
    v = flatten([
      for key, values in plats : [
        for plat in values : { version : key, arch : split("/", plat)[1] }
      ]
    ])
    w = {for k, v in plats : k => v}
  }
}
"#;
        let body = parse(text).unwrap();
        let Some(Expr::Object(plats)) = body.get("plats") else {
            panic!("{body:?}")
        };
        assert_eq!(plats[0].1, Expr::Raw("common".into()));
        assert_eq!(plats[1].1, Expr::Raw("[for p in common : p]".into()));
        let Some(Expr::Object(matrix)) = body.blocks[0].body.get("matrix") else {
            panic!("{body:?}")
        };
        assert!(
            matches!(&matrix[0].1, Expr::Raw(t) if t.starts_with("flatten([") && t.ends_with("])")),
            "{matrix:?}"
        );
        assert_eq!(
            matrix[1].1,
            Expr::Raw("{for k, v in plats : k => v}".into())
        );
    }

    #[test]
    fn errors_carry_an_offset_and_name_the_text() {
        let error = parse("target \"a\" {\n  context = \"open\n}\n").unwrap_err();
        assert_eq!(error.offset, 25);
        assert!(error.message.contains("missing closing"), "{error:?}");
        let error = parse("target \"a\" {\n  @ = 1\n}\n").unwrap_err();
        assert!(error.message.contains("`@`"), "{error:?}");
        assert!(parse("target \"a\" {\n").is_err());
        assert!(parse(&"x = [".repeat(200)).is_err());
    }
}
