//! A small evaluator for the HCL expressions bake files use to compute `matrix` values and
//! templates: literals, lists and objects, variable references with `.attr` and `[index]`,
//! `for` expressions, `==`/`!=`/`&&`/`||`/`!`, conditionals, and the functions `keys`,
//! `values`, `flatten`, `split`, `join`, `replace`, `lower`, `upper`, `trimprefix`,
//! `trimsuffix`, `length` and `concat`. Anything else (arithmetic, `%{…}` directives, other
//! functions, a regular expression in `replace`) is an [`Unsupported`] error, so the caller
//! leaves what used it unresolved rather than guessing.

use std::collections::BTreeMap;

/// How deep an expression may nest, and variables refer to variables.
const MAX_DEPTH: usize = 32;

/// Results larger than this many values are refused (a `for` over a `flatten` of lists).
const MAX_VALUES: usize = 100_000;

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    List(Vec<Value>),
    /// Objects and maps, in key order as HCL iterates them.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The text a template interpolates, for strings, numbers and bools.
    pub(crate) fn text(&self) -> Result<String, Unsupported> {
        match self {
            Value::Str(s) => Ok(s.clone()),
            Value::Num(n) => Ok(number_text(*n)),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(Unsupported(format!("{} in a template", other.kind()))),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Num(_) => "a number",
            Value::Bool(_) => "a bool",
            Value::Null => "null",
            Value::List(_) => "a list",
            Value::Map(_) => "an object",
        }
    }

    fn size(&self) -> usize {
        match self {
            Value::List(items) => items.iter().map(Value::size).sum::<usize>() + 1,
            Value::Map(entries) => entries.values().map(Value::size).sum::<usize>() + 1,
            _ => 1,
        }
    }
}

/// A length or index as an HCL number (lengths here are far below 2^52).
#[allow(clippy::cast_precision_loss)]
fn count(n: usize) -> f64 {
    n as f64
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        n.to_string()
    }
}

/// Why an expression has no value here: what was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported(pub(crate) String);

type Result<T, E = Unsupported> = std::result::Result<T, E>;

fn unsupported<T>(what: impl Into<String>) -> Result<T> {
    Err(Unsupported(what.into()))
}

/// Where names get their values: the innermost scopes first, then the caller's lookup.
pub(crate) trait Lookup {
    /// The value of `name`, `None` when it is unknown.
    fn lookup(&self, name: &str, depth: usize) -> Option<Result<Value>>;
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
enum Ast {
    Lit(Value),
    Template(Vec<Part>),
    Var(String),
    Call(String, Vec<Ast>),
    Attr(Box<Ast>, String),
    Index(Box<Ast>, Box<Ast>),
    List(Vec<Ast>),
    Object(Vec<(Ast, Ast)>),
    For(Box<For>),
    Binary(Op, Box<Ast>, Box<Ast>),
    Not(Box<Ast>),
    Cond(Box<Ast>, Box<Ast>, Box<Ast>),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Expr(Ast),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    And,
    Or,
}

/// `[for k, v in coll : value if cond]` or `{for k, v in coll : key => value if cond}`.
#[derive(Debug, Clone, PartialEq)]
struct For {
    key: Option<String>,
    value: String,
    collection: Ast,
    key_expr: Option<Ast>,
    value_expr: Ast,
    condition: Option<Ast>,
}

/// Evaluates the expression `text`.
pub(crate) fn eval(text: &str, scope: &dyn Lookup, depth: usize) -> Result<Value> {
    let ast = parse_expression(text)?;
    Evaluator {
        scope,
        locals: Vec::new(),
    }
    .eval(&ast, depth)
}

/// Evaluates a template's text (a string's value with its `${…}` kept as written).
pub(crate) fn eval_template(text: &str, scope: &dyn Lookup, depth: usize) -> Result<Value> {
    let parts = Parser::new(text).template_parts(None)?;
    Evaluator {
        scope,
        locals: Vec::new(),
    }
    .eval(&Ast::Template(parts), depth)
}

/// The length of the `${…}` interpolation at the start of `text`, up to its matching `}`
/// (braces and strings inside counted), or `None` when it is not closed.
pub(crate) fn interpolation_len(text: &str) -> Option<usize> {
    let mut parser = Parser::new(text);
    parser.pos = 2;
    parser.expression(0).ok()?;
    parser.skip_blank();
    parser.rest().starts_with('}').then_some(parser.pos + 1)
}

fn parse_expression(text: &str) -> Result<Ast> {
    let mut parser = Parser::new(text);
    let ast = parser.expression(0)?;
    parser.skip_blank();
    if !parser.rest().is_empty() {
        return unsupported(format!("`{}`", parser.rest().trim()));
    }
    Ok(ast)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn skip_blank(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with('#') || trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if trimmed.starts_with("/*") {
                self.pos += trimmed.find("*/").map_or(trimmed.len(), |i| i + 2);
            } else {
                return;
            }
        }
    }

    /// Consumes `token` (after blanks) when it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_blank();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) -> Result<()> {
        if self.eat(token) {
            Ok(())
        } else {
            unsupported(format!("expected `{token}` at `{}`", snippet(self.rest())))
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_blank();
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

    /// Whether keyword `word` comes next (not as the start of a longer name).
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_blank();
        let rest = self.rest();
        let after = rest.get(word.len()..).and_then(|r| r.chars().next());
        if rest.starts_with(word)
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn expression(&mut self, depth: usize) -> Result<Ast> {
        if depth > MAX_DEPTH {
            return unsupported("an expression nested too deeply");
        }
        let condition = self.binary(0, depth)?;
        if self.eat("?") {
            let then = self.expression(depth + 1)?;
            self.expect(":")?;
            let otherwise = self.expression(depth + 1)?;
            return Ok(Ast::Cond(
                Box::new(condition),
                Box::new(then),
                Box::new(otherwise),
            ));
        }
        Ok(condition)
    }

    /// Binary operators by precedence: `||`, `&&`, then `==`/`!=`.
    fn binary(&mut self, level: usize, depth: usize) -> Result<Ast> {
        const LEVELS: [&[(&str, Op)]; 3] = [
            &[("||", Op::Or)],
            &[("&&", Op::And)],
            &[("==", Op::Eq), ("!=", Op::Ne)],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.unary(depth);
        };
        let mut left = self.binary(level + 1, depth)?;
        'outer: loop {
            for (token, op) in *ops {
                if self.eat(token) {
                    let right = self.binary(level + 1, depth)?;
                    left = Ast::Binary(*op, Box::new(left), Box::new(right));
                    continue 'outer;
                }
            }
            break;
        }
        self.skip_blank();
        let rest = self.rest();
        if level == 0
            && (rest.starts_with(['+', '*', '/', '%', '<', '>'])
                || (rest.starts_with('-') && !rest.starts_with("->")))
        {
            return unsupported(format!("operator at `{}`", snippet(rest)));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Ast> {
        if depth > MAX_DEPTH {
            return unsupported("an expression nested too deeply");
        }
        if self.eat("!") {
            return Ok(Ast::Not(Box::new(self.unary(depth + 1)?)));
        }
        let mut ast = self.primary(depth + 1)?;
        loop {
            if self.rest().starts_with("...") {
                return unsupported("`...`");
            }
            if self.eat(".") {
                if let Some(name) = self.ident() {
                    ast = Ast::Attr(Box::new(ast), name);
                } else {
                    let digits = self.number()?;
                    ast = Ast::Index(Box::new(ast), Box::new(digits));
                }
            } else if self.eat("[") {
                if self.eat("*") {
                    return unsupported("a splat `[*]`");
                }
                let index = self.expression(depth + 1)?;
                self.expect("]")?;
                ast = Ast::Index(Box::new(ast), Box::new(index));
            } else {
                return Ok(ast);
            }
        }
    }

    fn number(&mut self) -> Result<Ast> {
        self.skip_blank();
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let len = if rest[..len].ends_with('.') {
            len - 1
        } else {
            len
        };
        match rest[..len].parse::<f64>() {
            Ok(n) if len > 0 => {
                self.pos += len;
                Ok(Ast::Lit(Value::Num(n)))
            }
            _ => unsupported(format!("`{}`", snippet(rest))),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Ast> {
        if depth > MAX_DEPTH {
            return unsupported("an expression nested too deeply");
        }
        self.skip_blank();
        let rest = self.rest();
        if rest.starts_with('"') {
            self.pos += 1;
            let parts = self.template_parts(Some('"'))?;
            return Ok(Ast::Template(parts));
        }
        if rest.starts_with("<<") {
            return unsupported("a heredoc in an expression");
        }
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            return self.number();
        }
        if self.eat("(") {
            let inner = self.expression(depth + 1)?;
            self.expect(")")?;
            return Ok(inner);
        }
        if self.eat("[") {
            if self.keyword("for") {
                let for_ = self.for_rest(false, depth)?;
                self.expect("]")?;
                return Ok(Ast::For(Box::new(for_)));
            }
            let mut items = Vec::new();
            while !self.eat("]") {
                if self.rest().is_empty() {
                    return unsupported("a list without `]`");
                }
                items.push(self.expression(depth + 1)?);
                if !self.eat(",") {
                    self.expect("]")?;
                    break;
                }
            }
            return Ok(Ast::List(items));
        }
        if self.eat("{") {
            if self.keyword("for") {
                let for_ = self.for_rest(true, depth)?;
                self.expect("}")?;
                return Ok(Ast::For(Box::new(for_)));
            }
            let mut entries = Vec::new();
            while !self.eat("}") {
                if self.rest().is_empty() {
                    return unsupported("an object without `}`");
                }
                let key = if self.rest().starts_with('(') || self.rest().starts_with('"') {
                    self.primary(depth + 1)?
                } else if let Some(name) = self.ident() {
                    Ast::Lit(Value::Str(name))
                } else {
                    return unsupported(format!("object key at `{}`", snippet(self.rest())));
                };
                if !self.eat("=") {
                    self.expect(":")?;
                }
                let value = self.expression(depth + 1)?;
                entries.push((key, value));
                self.eat(",");
            }
            return Ok(Ast::Object(entries));
        }
        let Some(name) = self.ident() else {
            return unsupported(format!("`{}`", snippet(rest)));
        };
        match name.as_str() {
            "true" => return Ok(Ast::Lit(Value::Bool(true))),
            "false" => return Ok(Ast::Lit(Value::Bool(false))),
            "null" => return Ok(Ast::Lit(Value::Null)),
            _ => {}
        }
        if self.rest().starts_with('(') {
            self.pos += 1;
            let mut args = Vec::new();
            while !self.eat(")") {
                if self.rest().is_empty() {
                    return unsupported(format!("a call of `{name}` without `)`"));
                }
                args.push(self.expression(depth + 1)?);
                if self.rest().trim_start().starts_with("...") {
                    return unsupported("`...`");
                }
                if !self.eat(",") {
                    self.expect(")")?;
                    break;
                }
            }
            return Ok(Ast::Call(name, args));
        }
        Ok(Ast::Var(name))
    }

    /// The rest of a `for` expression after the `for` keyword.
    fn for_rest(&mut self, object: bool, depth: usize) -> Result<For> {
        let first = self
            .ident()
            .ok_or_else(|| Unsupported("a `for` without a name".to_owned()))?;
        let (key, value) = if self.eat(",") {
            let second = self
                .ident()
                .ok_or_else(|| Unsupported("a `for` without a second name".to_owned()))?;
            (Some(first), second)
        } else {
            (None, first)
        };
        if !self.keyword("in") {
            return unsupported("a `for` without `in`");
        }
        let collection = self.expression(depth + 1)?;
        self.expect(":")?;
        let mut key_expr = None;
        let mut value_expr = self.expression(depth + 1)?;
        if object {
            self.expect("=>")?;
            key_expr = Some(value_expr);
            value_expr = self.expression(depth + 1)?;
            if self.rest().trim_start().starts_with("...") {
                return unsupported("a grouping `for` (`...`)");
            }
        }
        let condition = if self.keyword("if") {
            Some(self.expression(depth + 1)?)
        } else {
            None
        };
        Ok(For {
            key,
            value,
            collection,
            key_expr,
            value_expr,
            condition,
        })
    }

    /// The parts of a template up to `close` (consumed) or the end: text with escapes
    /// applied inside quotes, and `${…}` interpolations; `$${` is a literal `${`.
    fn template_parts(&mut self, close: Option<char>) -> Result<Vec<Part>> {
        let mut parts = Vec::new();
        let mut text = String::new();
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                if close.is_some() {
                    return unsupported("a string without its closing `\"`");
                }
                break;
            };
            if Some(c) == close {
                self.pos += 1;
                break;
            }
            if rest.starts_with("$${") || rest.starts_with("%%{") {
                text.push_str(&rest[1..3]);
                self.pos += 3;
            } else if rest.starts_with("%{") {
                return unsupported("a template directive `%{…}`");
            } else if rest.starts_with("${") {
                self.pos += 2;
                if !text.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                }
                parts.push(Part::Expr(self.expression(0)?));
                self.expect("}")?;
            } else if c == '\\' && close.is_some() {
                let next = rest[1..].chars().next().unwrap_or('\\');
                match next {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    '"' | '\\' => text.push(next),
                    _ => return unsupported(format!("the escape `\\{next}`")),
                }
                self.pos += 1 + next.len_utf8();
            } else {
                text.push(c);
                self.pos += c.len_utf8();
            }
        }
        if !text.is_empty() || parts.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(parts)
    }
}

fn snippet(text: &str) -> &str {
    let text = text.trim();
    let end = text.char_indices().nth(24).map_or(text.len(), |(i, _)| i);
    &text[..end]
}

struct Evaluator<'s> {
    scope: &'s dyn Lookup,
    /// The names `for` expressions bind, innermost last.
    locals: Vec<(String, Value)>,
}

impl Evaluator<'_> {
    fn eval(&mut self, ast: &Ast, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH * 4 {
            return unsupported("an expression nested too deeply");
        }
        let depth = depth + 1;
        match ast {
            Ast::Lit(value) => Ok(value.clone()),
            Ast::Template(parts) => {
                if let [Part::Expr(only)] = parts.as_slice() {
                    // `"${x}"` is x's value itself, as in HCL.
                    return self.eval(only, depth);
                }
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(text) => out.push_str(text),
                        Part::Expr(expr) => out.push_str(&self.eval(expr, depth)?.text()?),
                    }
                }
                Ok(Value::Str(out))
            }
            Ast::Var(name) => {
                if let Some((_, value)) = self.locals.iter().rev().find(|(n, _)| n == name) {
                    return Ok(value.clone());
                }
                self.scope
                    .lookup(name, depth)
                    .unwrap_or_else(|| unsupported(format!("the unknown name `{name}`")))
            }
            Ast::Attr(base, name) => match self.eval(base, depth)? {
                Value::Map(mut entries) => entries
                    .remove(name)
                    .ok_or_else(|| Unsupported(format!("no attribute `{name}`"))),
                other => unsupported(format!("`.{name}` of {}", other.kind())),
            },
            Ast::Index(base, index) => {
                let base = self.eval(base, depth)?;
                let index = self.eval(index, depth)?;
                index_of(base, &index)
            }
            Ast::List(items) => items
                .iter()
                .map(|item| self.eval(item, depth))
                .collect::<Result<_>>()
                .map(Value::List)
                .and_then(bounded),
            Ast::Object(entries) => {
                let mut map = BTreeMap::new();
                for (key, value) in entries {
                    let key = self.eval(key, depth)?.text()?;
                    map.insert(key, self.eval(value, depth)?);
                }
                bounded(Value::Map(map))
            }
            Ast::For(for_) => self.for_(for_, depth),
            Ast::Binary(op, left, right) => {
                let left = self.eval(left, depth)?;
                match op {
                    Op::Eq => Ok(Value::Bool(left == self.eval(right, depth)?)),
                    Op::Ne => Ok(Value::Bool(left != self.eval(right, depth)?)),
                    Op::And | Op::Or => {
                        let left = bool_of(&left)?;
                        if left == (*op == Op::Or) {
                            return Ok(Value::Bool(left));
                        }
                        Ok(Value::Bool(bool_of(&self.eval(right, depth)?)?))
                    }
                }
            }
            Ast::Not(inner) => Ok(Value::Bool(!bool_of(&self.eval(inner, depth)?)?)),
            Ast::Cond(condition, then, otherwise) => {
                if bool_of(&self.eval(condition, depth)?)? {
                    self.eval(then, depth)
                } else {
                    self.eval(otherwise, depth)
                }
            }
            Ast::Call(name, args) => {
                let args = args
                    .iter()
                    .map(|arg| self.eval(arg, depth))
                    .collect::<Result<Vec<_>>>()?;
                call(name, args)
            }
        }
    }

    fn for_(&mut self, for_: &For, depth: usize) -> Result<Value> {
        let pairs: Vec<(Value, Value)> = match self.eval(&for_.collection, depth)? {
            Value::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::Num(count(i)), v))
                .collect(),
            Value::Map(entries) => entries
                .into_iter()
                .map(|(k, v)| (Value::Str(k), v))
                .collect(),
            other => return unsupported(format!("`for` over {}", other.kind())),
        };
        let mut list = Vec::new();
        let mut map = BTreeMap::new();
        let mut size = 0usize;
        for (key, value) in pairs {
            let bound = self.locals.len();
            if let Some(name) = &for_.key {
                self.locals.push((name.clone(), key));
            }
            self.locals.push((for_.value.clone(), value));
            let result = self.for_item(for_, depth);
            self.locals.truncate(bound);
            let Some((key, value)) = result? else {
                continue;
            };
            size += value.size();
            if size > MAX_VALUES {
                return unsupported(format!("a `for` with more than {MAX_VALUES} values"));
            }
            match key {
                Some(key) => {
                    if map.insert(key.clone(), value).is_some() {
                        return unsupported(format!("the duplicate key `{key}` in a `for`"));
                    }
                }
                None => list.push(value),
            }
        }
        Ok(if for_.key_expr.is_some() {
            Value::Map(map)
        } else {
            Value::List(list)
        })
    }

    /// One element of a `for`: its key (for objects) and value, `None` when `if` drops it.
    fn for_item(&mut self, for_: &For, depth: usize) -> Result<Option<(Option<String>, Value)>> {
        if let Some(condition) = &for_.condition {
            if !bool_of(&self.eval(condition, depth)?)? {
                return Ok(None);
            }
        }
        let key = match &for_.key_expr {
            Some(key) => Some(self.eval(key, depth)?.text()?),
            None => None,
        };
        Ok(Some((key, self.eval(&for_.value_expr, depth)?)))
    }
}

/// `value`, unless it holds more than [`MAX_VALUES`] values (lists of lists of references
/// to each other grow exponentially).
pub(crate) fn bounded(value: Value) -> Result<Value> {
    if value.size() > MAX_VALUES {
        return unsupported(format!("a value with more than {MAX_VALUES} values"));
    }
    Ok(value)
}

fn bool_of(value: &Value) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Str(s) if s == "true" => Ok(true),
        Value::Str(s) if s == "false" => Ok(false),
        other => unsupported(format!("{} as a condition", other.kind())),
    }
}

fn index_of(base: Value, index: &Value) -> Result<Value> {
    match base {
        Value::List(mut items) => {
            let i = match index {
                Value::Num(n) => *n,
                Value::Str(s) => s
                    .parse()
                    .map_err(|_| Unsupported(format!("the index `{s}`")))?,
                other => return unsupported(format!("{} as an index", other.kind())),
            };
            if i.fract() != 0.0 || i < 0.0 || i >= count(items.len()) {
                return unsupported(format!(
                    "the index `{}` of a list of {}",
                    number_text(i),
                    items.len()
                ));
            }
            #[allow(clippy::cast_sign_loss)]
            Ok(items.swap_remove(i as usize))
        }
        Value::Map(mut entries) => {
            let key = index.text()?;
            entries
                .remove(&key)
                .ok_or_else(|| Unsupported(format!("no key `{key}`")))
        }
        other => unsupported(format!("an index into {}", other.kind())),
    }
}

fn string_arg(args: &[Value], i: usize, function: &str) -> Result<String> {
    match args.get(i) {
        Some(Value::Str(s)) => Ok(s.clone()),
        Some(Value::Num(n)) => Ok(number_text(*n)),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        _ => unsupported(format!("`{function}` without a string argument {}", i + 1)),
    }
}

fn arity(args: &[Value], n: usize, function: &str) -> Result<()> {
    if args.len() == n {
        Ok(())
    } else {
        unsupported(format!("`{function}` with {} arguments", args.len()))
    }
}

fn call(name: &str, args: Vec<Value>) -> Result<Value> {
    match name {
        "keys" | "values" => {
            arity(&args, 1, name)?;
            let Some(Value::Map(entries)) = args.into_iter().next() else {
                return unsupported(format!("`{name}` of something else than an object"));
            };
            Ok(Value::List(if name == "keys" {
                entries.into_keys().map(Value::Str).collect()
            } else {
                entries.into_values().collect()
            }))
        }
        "flatten" => {
            arity(&args, 1, name)?;
            let mut out = Vec::new();
            flatten(args.into_iter().next().unwrap_or(Value::Null), &mut out, 0)?;
            Ok(Value::List(out))
        }
        "concat" => {
            let mut out = Vec::new();
            for arg in args {
                let Value::List(items) = arg else {
                    return unsupported("`concat` of something else than lists");
                };
                out.extend(items);
            }
            Ok(Value::List(out))
        }
        "length" => {
            arity(&args, 1, name)?;
            let n = match &args[0] {
                Value::List(items) => items.len(),
                Value::Map(entries) => entries.len(),
                Value::Str(s) => s.chars().count(),
                other => return unsupported(format!("`length` of {}", other.kind())),
            };
            Ok(Value::Num(count(n)))
        }
        "split" => {
            arity(&args, 2, name)?;
            let separator = string_arg(&args, 0, name)?;
            let text = string_arg(&args, 1, name)?;
            if separator.is_empty() {
                return unsupported("`split` with an empty separator");
            }
            Ok(Value::List(
                text.split(separator.as_str())
                    .map(|s| Value::Str(s.to_owned()))
                    .collect(),
            ))
        }
        "join" => {
            arity(&args, 2, name)?;
            let separator = string_arg(&args, 0, name)?;
            let Some(Value::List(items)) = args.get(1) else {
                return unsupported("`join` of something else than a list");
            };
            let items = items.iter().map(Value::text).collect::<Result<Vec<_>>>()?;
            Ok(Value::Str(items.join(&separator)))
        }
        "replace" => {
            arity(&args, 3, name)?;
            let text = string_arg(&args, 0, name)?;
            let from = string_arg(&args, 1, name)?;
            let to = string_arg(&args, 2, name)?;
            if from.len() > 1 && from.starts_with('/') && from.ends_with('/') {
                return unsupported(format!("`replace` with the regular expression `{from}`"));
            }
            if from.is_empty() {
                return unsupported("`replace` of an empty string");
            }
            Ok(Value::Str(text.replace(&from, &to)))
        }
        "lower" | "upper" => {
            arity(&args, 1, name)?;
            let text = string_arg(&args, 0, name)?;
            Ok(Value::Str(if name == "lower" {
                text.to_lowercase()
            } else {
                text.to_uppercase()
            }))
        }
        "trimprefix" | "trimsuffix" => {
            arity(&args, 2, name)?;
            let text = string_arg(&args, 0, name)?;
            let affix = string_arg(&args, 1, name)?;
            let trimmed = if name == "trimprefix" {
                text.strip_prefix(affix.as_str())
            } else {
                text.strip_suffix(affix.as_str())
            };
            Ok(Value::Str(trimmed.unwrap_or(&text).to_owned()))
        }
        other => unsupported(format!("the function `{other}`")),
    }
}

fn flatten(value: Value, out: &mut Vec<Value>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return unsupported("a list nested too deeply");
    }
    match value {
        Value::List(items) => {
            for item in items {
                if matches!(item, Value::List(_)) {
                    flatten(item, out, depth + 1)?;
                } else {
                    out.push(item);
                }
            }
            Ok(())
        }
        other => unsupported(format!("`flatten` of {}", other.kind())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names with fixed values.
    struct Names(Vec<(&'static str, Value)>);

    impl Lookup for Names {
        fn lookup(&self, name: &str, _depth: usize) -> Option<Result<Value>> {
            self.0
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| Ok(v.clone()))
        }
    }

    fn s(text: &str) -> Value {
        Value::Str(text.to_owned())
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| s(i)).collect())
    }

    fn platforms() -> Names {
        let common = list(&["linux/amd64", "linux/arm64"]);
        Names(vec![
            ("common-platforms", common.clone()),
            (
                "alpine-platforms",
                Value::Map(BTreeMap::from([
                    ("latest".to_owned(), common.clone()),
                    ("3.21".to_owned(), list(&["linux/amd64"])),
                ])),
            ),
            ("version", s("3.21")),
        ])
    }

    #[test]
    fn keys_and_values_follow_key_order() {
        let names = platforms();
        assert_eq!(
            eval("keys(alpine-platforms)", &names, 0),
            Ok(list(&["3.21", "latest"]))
        );
        assert_eq!(
            eval("flatten(values(alpine-platforms))", &names, 0),
            Ok(list(&["linux/amd64", "linux/amd64", "linux/arm64"]))
        );
        assert_eq!(
            eval("alpine-platforms[version]", &names, 0),
            Ok(list(&["linux/amd64"]))
        );
    }

    #[test]
    fn nested_for_with_flatten_and_split() {
        let names = platforms();
        let value = eval(
            r#"flatten([
              for key, values in alpine-platforms : [
                for plat in values : { version : key, arch : split("/", plat)[1] }
              ]
            ])"#,
            &names,
            0,
        )
        .unwrap();
        let pair = |version: &str, arch: &str| {
            Value::Map(BTreeMap::from([
                ("version".to_owned(), s(version)),
                ("arch".to_owned(), s(arch)),
            ]))
        };
        assert_eq!(
            value,
            Value::List(vec![
                pair("3.21", "amd64"),
                pair("latest", "amd64"),
                pair("latest", "arm64")
            ])
        );
    }

    #[test]
    fn object_for_with_condition() {
        let names = platforms();
        assert_eq!(
            eval(
                r#"{ for p in common-platforms : p => upper(p) if p != "linux/arm64" }"#,
                &names,
                0
            ),
            Ok(Value::Map(BTreeMap::from([(
                "linux/amd64".to_owned(),
                s("LINUX/AMD64")
            )])))
        );
    }

    #[test]
    fn templates_interpolate_calls_attributes_and_conditionals() {
        let names = Names(vec![(
            "item",
            Value::Map(BTreeMap::from([
                ("version".to_owned(), s("nanoserver:ltsc2019")),
                ("arch".to_owned(), s("amd64")),
            ])),
        )]);
        assert_eq!(
            eval_template(r#"w-${replace(item.version, ":", "-")}"#, &names, 0),
            Ok(s("w-nanoserver-ltsc2019"))
        );
        assert_eq!(
            eval_template(
                r#"${item.arch == "amd64" ? "x86_64" : item.arch}-$${x}"#,
                &names,
                0
            ),
            Ok(s("x86_64-${x}"))
        );
        assert_eq!(
            eval_template("${item}", &names, 0),
            Ok(names.0[0].1.clone())
        );
    }

    #[test]
    fn what_is_not_understood_is_an_error_not_a_guess() {
        let names = platforms();
        for text in [
            "unknown",
            "regex_replace(version, \"a\", \"b\")",
            "replace(version, \"/[.]/\", \"-\")",
            "1 + 2",
            "version-suffix",
            "common-platforms[2]",
            "common-platforms[*]",
            "[for p in common-platforms : p...]",
            "keys(common-platforms)",
            "split(\"/\")",
            "\"open",
            "(",
        ] {
            assert!(eval(text, &names, 0).is_err(), "{text}");
        }
        assert!(eval_template("%{ if true }x%{ endif }", &names, 0).is_err());
        assert!(eval_template("${lower(version) + 1}", &names, 0).is_err());
        assert!(eval(&"[".repeat(500), &names, 0).is_err());
        assert!(eval(&"!".repeat(100_000), &names, 0).is_err());
    }

    #[test]
    fn interpolation_len_counts_nested_braces_and_strings() {
        let text = r#"${v == "x}" ? "-${v}" : v}-rest"#;
        let len = interpolation_len(text).unwrap();
        assert_eq!(&text[len..], "-rest");
        assert_eq!(interpolation_len("${NAME}"), Some(7));
        assert_eq!(interpolation_len("${open"), None);
    }
}
