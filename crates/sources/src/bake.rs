//! `docker buildx bake` files (`docker-bake.hcl`, `docker-bake.json` and their
//! `.override.` companions): the `target` blocks that say how each Dockerfile is built
//! (`context`, `dockerfile`, `contexts`, `args`, `inherits`), with `variable` defaults
//! interpolated as `${NAME}`. Environment variables that bake would also read are not read.
//! A target with a `matrix` is one build per combination of its values, as bake expands it
//! (at most [`MAX_COMBINATIONS`]); the values, and `${…}` expressions in templates, are
//! computed by a small evaluator ([`eval`]) for the expressions bake files use, and whatever
//! it does not understand stays unresolved.
//!
//! HCL is read by our own small reader for the subset bake files use ([`hcl`]), which keeps
//! the byte span of every string; JSON is read by the YAML reader, which keeps spans too.
//! Both give the same [`Body`]. A `docker-image://` context is an image reference of the
//! bake file itself (`pin` writes its digest there); each target is a [`BuildDefinition`]
//! of the Dockerfile it builds.

mod eval;
mod hcl;
mod json;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use portcullis_reference::ImageRef;

use self::eval::{Lookup, Unsupported, Value};
use crate::project::{dockerfile_of, named_context, BuildDefinition, NamedContext};
use crate::text::LineIndex;
use crate::{
    Context, Literal, Occurrence, Problem, ProblemKind, Resolution, SourceFile, MAX_FILE_SIZE,
};

/// The scheme of a build context that names an image.
const IMAGE_SCHEME: &str = "docker-image://";

/// How deep variables may refer to variables, and targets inherit targets.
const MAX_CHAIN: usize = 32;

/// The most builds one `matrix` target expands to; a larger matrix is a problem of the bake
/// file and the target's values that use it stay unresolved.
const MAX_COMBINATIONS: usize = 1000;

/// Attributes and blocks of a file or a block.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Body {
    pub(crate) attrs: Vec<(String, Expr)>,
    pub(crate) blocks: Vec<Block>,
}

impl Body {
    /// The last value of attribute `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Expr> {
        self.attrs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// `kind "label" { body }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Block {
    pub(crate) kind: String,
    pub(crate) labels: Vec<String>,
    pub(crate) body: Body,
    /// Where the block starts.
    pub(crate) offset: usize,
}

/// A value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// A string template: its value with `${…}` kept, the span of its text, and whether
    /// that text is the value verbatim.
    Str {
        value: String,
        span: Range<usize>,
        exact: bool,
    },
    List(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    /// An expression the reader does not evaluate (a reference, a function call, a `for`
    /// expression, a conditional), as written.
    Raw(String),
    /// Anything else; a number or bool keeps its text.
    Other(Option<String>),
}

/// A bake file read: its body or the syntax error (offset, message).
fn read_body(file: &SourceFile, text: &str) -> Result<Body, (usize, String)> {
    let json = file.rel.to_ascii_lowercase().ends_with(".json");
    if json {
        json::parse(text)
    } else {
        hcl::parse(text).map_err(|e| (e.offset, e.message))
    }
}

/// Reads a small source file for the project facts; `None` when it cannot be read (its
/// own parse reports that).
pub(crate) fn read_small(file: &SourceFile) -> Option<String> {
    let meta = std::fs::metadata(&file.path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_SIZE {
        return None;
    }
    String::from_utf8(std::fs::read(&file.path).ok()?).ok()
}

/// The variables of a body and how to expand `${NAME}` with them: `variable` defaults,
/// top-level attributes, and the values of one `matrix` combination.
#[derive(Clone)]
struct Vars<'b> {
    defaults: BTreeMap<&'b str, &'b Expr>,
    attrs: BTreeMap<&'b str, &'b Expr>,
    matrix: BTreeMap<String, Value>,
}

/// Why a `matrix` is not expanded.
#[derive(Debug, Clone, PartialEq)]
enum MatrixError {
    /// The evaluator does not understand it.
    Unsupported(Unsupported),
    /// It has this many combinations, more than [`MAX_COMBINATIONS`].
    TooMany(u128),
}

impl Lookup for Vars<'_> {
    fn lookup(&self, name: &str, depth: usize) -> Option<Result<Value, Unsupported>> {
        if let Some(value) = self.matrix.get(name) {
            return Some(Ok(value.clone()));
        }
        let expr = self.defaults.get(name).or_else(|| self.attrs.get(name))?;
        Some(self.value_of(expr, depth + 1))
    }
}

/// An expanded template: the text, or the variable or expression left without a value.
type Expanded = Result<String, String>;

impl<'b> Vars<'b> {
    fn of(body: &'b Body) -> Self {
        let mut defaults = BTreeMap::new();
        for block in body.blocks.iter().filter(|b| b.kind == "variable") {
            if let (Some(name), Some(default)) = (block.labels.first(), block.body.get("default")) {
                defaults.insert(name.as_str(), default);
            }
        }
        let attrs = body.attrs.iter().map(|(k, v)| (k.as_str(), v)).collect();
        Self {
            defaults,
            attrs,
            matrix: BTreeMap::new(),
        }
    }

    /// These variables with the values of one `matrix` combination.
    fn with_matrix(&self, matrix: BTreeMap<String, Value>) -> Self {
        Self {
            matrix,
            ..self.clone()
        }
    }

    /// The value of variable `name`.
    fn value(&self, name: &str, depth: usize) -> Expanded {
        if let Some(value) = self.matrix.get(name) {
            return value.text().map_err(|_| name.to_owned());
        }
        match self.defaults.get(name) {
            Some(Expr::Str { value, .. }) if depth < MAX_CHAIN => self.expand(value, depth + 1),
            Some(Expr::Other(Some(text))) => Ok(text.clone()),
            Some(raw @ Expr::Raw(_)) => self
                .value_of(raw, depth + 1)
                .and_then(|v| v.text())
                .map_err(|_| name.to_owned()),
            _ => Err(name.to_owned()),
        }
    }

    /// The value of an expression as the evaluator sees it.
    fn value_of(&self, expr: &Expr, depth: usize) -> Result<Value, Unsupported> {
        if depth > MAX_CHAIN {
            return Err(Unsupported(
                "values referring to each other too deeply".into(),
            ));
        }
        match expr {
            Expr::Str { value, .. } => eval::eval_template(value, self, depth + 1),
            Expr::List(items) => items
                .iter()
                .map(|item| self.value_of(item, depth + 1))
                .collect::<Result<_, _>>()
                .map(Value::List)
                .and_then(eval::bounded),
            Expr::Object(entries) => entries
                .iter()
                .map(|(k, v)| Ok((k.clone(), self.value_of(v, depth + 1)?)))
                .collect::<Result<_, _>>()
                .map(Value::Map)
                .and_then(eval::bounded),
            Expr::Raw(text) => eval::eval(text, self, depth + 1),
            Expr::Other(Some(text)) => Ok(match text.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => text
                    .parse()
                    .map_or_else(|_| Value::Str(text.clone()), Value::Num),
            }),
            Expr::Other(None) => Err(Unsupported("null".into())),
        }
    }

    /// The combinations of a `matrix` attribute: one map of its names to values each.
    fn combinations(&self, matrix: &Expr) -> Result<Vec<BTreeMap<String, Value>>, MatrixError> {
        let Value::Map(axes) = self.value_of(matrix, 0).map_err(MatrixError::Unsupported)? else {
            return Err(MatrixError::Unsupported(Unsupported(
                "a `matrix` that is not an object".into(),
            )));
        };
        let mut count: u128 = 1;
        let mut lists = Vec::new();
        for (name, values) in axes {
            let Value::List(values) = values else {
                return Err(MatrixError::Unsupported(Unsupported(format!(
                    "matrix value `{name}` is not a list"
                ))));
            };
            count = count.saturating_mul(values.len() as u128);
            lists.push((name, values));
        }
        if count > MAX_COMBINATIONS as u128 {
            return Err(MatrixError::TooMany(count));
        }
        let mut combinations = vec![BTreeMap::new()];
        for (name, values) in lists {
            combinations = combinations
                .into_iter()
                .flat_map(|combination| {
                    let name = &name;
                    values.iter().map(move |value| {
                        let mut next = combination.clone();
                        next.insert(name.clone(), value.clone());
                        next
                    })
                })
                .collect();
        }
        Ok(combinations)
    }

    /// Expands `${NAME}` (and `$${` as `${`); any other `${…}` expression is unresolved.
    fn expand(&self, template: &str, depth: usize) -> Expanded {
        let mut out = String::new();
        let mut rest = template;
        while let Some(i) = rest.find(['$', '%']) {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            if let Some(r) = rest
                .strip_prefix("$${")
                .or_else(|| rest.strip_prefix("%%{"))
            {
                out.push_str(&rest[1..3]);
                rest = r;
            } else if rest.starts_with("${") || rest.starts_with("%{") {
                let end = rest.find('}').unwrap_or(rest.len());
                let inner = rest[2..end].trim();
                let simple = !inner.is_empty()
                    && rest.starts_with('$')
                    && inner.chars().all(|c| c.is_alphanumeric() || c == '_');
                if simple {
                    out.push_str(&self.value(inner, depth)?);
                    rest = rest.get(end + 1..).unwrap_or_default();
                    continue;
                }
                // An expression (`${replace(v.version, ".", "-")}`) the evaluator may know.
                let len = rest
                    .starts_with('$')
                    .then(|| eval::interpolation_len(rest))
                    .flatten();
                let Some(len) = len else {
                    return Err(rest[..(end + 1).min(rest.len())].to_owned());
                };
                let written = &rest[..len];
                match eval::eval(&written[2..len - 1], self, depth + 1).and_then(|v| v.text()) {
                    Ok(text) => out.push_str(&text),
                    Err(_) => return Err(written.to_owned()),
                }
                rest = &rest[len..];
            } else {
                out.push_str(&rest[..1]);
                rest = &rest[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A string value expanded; `None` for values that are not strings. An expression
    /// counts as a string when it evaluates to one, and stays unresolved when it does not.
    fn string(&self, expr: &Expr) -> Option<Expanded> {
        match expr {
            Expr::Str { value, .. } => Some(self.expand(value, 0)),
            Expr::Other(Some(text)) => Some(Ok(text.clone())),
            Expr::Raw(text) => match self.value_of(expr, 0) {
                Ok(Value::List(_) | Value::Map(_) | Value::Null) => None,
                Ok(value) => Some(value.text().map_err(|_| text.clone())),
                Err(_) => Some(Err(text.clone())),
            },
            _ => None,
        }
    }
}

/// Parses a bake file as a source: its `docker-image://` contexts.
pub(crate) fn parse(file: &SourceFile, text: &str) -> (Vec<Occurrence>, Vec<Problem>) {
    let index = LineIndex::new(text);
    let problem = |kind: ProblemKind, offset: usize, message: String| {
        let (line, column) = index.line_col(offset.min(text.len()));
        Problem {
            kind,
            file: file.rel.clone(),
            line: Some(line),
            column: Some(column),
            message,
        }
    };
    let body = match read_body(file, text) {
        Ok(body) => body,
        Err((offset, message)) => {
            let message = format!("invalid bake file: {message}");
            return (
                Vec::new(),
                vec![problem(ProblemKind::FileInvalid, offset, message)],
            );
        }
    };
    let vars = Vars::of(&body);
    let mut occurrences = Vec::new();
    let mut problems = Vec::new();
    for target in body.blocks.iter().filter(|b| b.kind == "target") {
        let label = target.labels.first().map_or("", String::as_str);
        // A matrix target's contexts are read once per combination.
        let combinations = match target.body.get("matrix").map(|m| vars.combinations(m)) {
            None | Some(Err(MatrixError::Unsupported(_))) => vec![vars.clone()],
            Some(Ok(combinations)) => combinations
                .into_iter()
                .map(|c| vars.with_matrix(c))
                .collect(),
            Some(Err(MatrixError::TooMany(count))) => {
                let message = format!(
                    "target `{label}`: its `matrix` has {count} combinations, more than the \
                     {MAX_COMBINATIONS} portcullis expands; the values that use it are left \
                     unresolved"
                );
                problems.push(problem(ProblemKind::FileInvalid, target.offset, message));
                vec![vars.clone()]
            }
        };
        let Some(Expr::Object(contexts)) = target.body.get("contexts") else {
            continue;
        };
        for (name, value) in contexts {
            let Expr::Str {
                value: written,
                span,
                exact,
            } = value
            else {
                continue;
            };
            if !written.starts_with(IMAGE_SCHEME) {
                continue;
            }
            let reference = &written[IMAGE_SCHEME.len()..];
            let at = if *exact {
                span.start + IMAGE_SCHEME.len()..span.end
            } else {
                span.clone()
            };
            let mut seen = Vec::new();
            for vars in &combinations {
                let (resolution, literal) = match vars.expand(reference, 0) {
                    Err(variable) => (Resolution::Unresolved { variable }, None),
                    Ok(expanded) => match ImageRef::parse(&expanded) {
                        Ok(image) => (
                            Resolution::Image(image),
                            literal_of(vars, reference, *exact, &at),
                        ),
                        Err(error) => {
                            let message = format!("target `{label}` context `{name}`: {error}");
                            let problem = problem(ProblemKind::ReferenceInvalid, at.start, message);
                            if !problems.contains(&problem) {
                                problems.push(problem);
                            }
                            continue;
                        }
                    },
                };
                if seen.contains(&resolution) {
                    continue;
                }
                seen.push(resolution.clone());
                occurrences.push(Occurrence {
                    location: index.location(&file.rel, at.clone()),
                    text: text.get(at.clone()).unwrap_or_default().to_owned(),
                    resolution,
                    context: Context::BuildContext,
                    platform: None,
                    literal,
                });
            }
        }
    }
    (occurrences, problems)
}

/// Where `pin` writes a context's reference: its own text when written plainly, or the
/// default of the one variable it is (`docker-image://${BASE}`) when that is plain.
fn literal_of(vars: &Vars<'_>, reference: &str, exact: bool, at: &Range<usize>) -> Option<Literal> {
    if !exact {
        return None;
    }
    if !reference.contains(['$', '%']) {
        return Some(Literal {
            span: at.clone(),
            text: reference.to_owned(),
            form: crate::LiteralForm::Reference,
        });
    }
    let name = reference.strip_prefix("${")?.strip_suffix('}')?.trim();
    if vars.matrix.contains_key(name) {
        return None;
    }
    match vars.defaults.get(name) {
        Some(Expr::Str {
            value,
            span,
            exact: true,
        }) if !value.contains(['$', '%']) => Some(Literal {
            span: span.clone(),
            text: value.clone(),
            form: crate::LiteralForm::Reference,
        }),
        _ => None,
    }
}

/// A target with `inherits` applied: the attributes that matter here.
#[derive(Debug, Clone, Default)]
struct Target {
    context: Option<String>,
    dockerfile: Option<String>,
    inline: bool,
    args: BTreeMap<String, String>,
    contexts: BTreeMap<String, NamedContext>,
}

/// The build definitions of the bake files of one directory, read together as bake merges
/// them (later files override earlier ones): each target, except bases that other targets
/// inherit from without naming a context or Dockerfile of their own (unless a group names
/// them), with the Dockerfile it builds (a `rel` path).
pub(crate) fn builds(files: &[&SourceFile]) -> Vec<(String, BuildDefinition)> {
    let mut merged = Body::default();
    for file in files {
        let Some(text) = read_small(file) else {
            continue;
        };
        let Ok(body) = read_body(file, &text) else {
            continue;
        };
        merged.attrs.extend(body.attrs);
        merged.blocks.extend(body.blocks);
    }
    let Some(first) = files.first() else {
        return Vec::new();
    };
    let vars = Vars::of(&merged);
    let mut targets: BTreeMap<&str, Vec<&Body>> = BTreeMap::new();
    for block in merged.blocks.iter().filter(|b| b.kind == "target") {
        if let Some(name) = block.labels.first() {
            targets.entry(name).or_default().push(&block.body);
        }
    }
    let mut inherited = BTreeSet::new();
    let mut grouped = BTreeSet::new();
    for block in &merged.blocks {
        let (key, into) = match block.kind.as_str() {
            "target" => ("inherits", &mut inherited),
            "group" => ("targets", &mut grouped),
            _ => continue,
        };
        if let Some(Expr::List(items)) = block.body.get(key) {
            for item in items {
                if let Some(Ok(name)) = vars.string(item) {
                    into.insert(name);
                }
            }
        }
    }
    let mut out = Vec::new();
    for (name, bodies) in &targets {
        // A base that others inherit from and that names no build of its own (`_common`
        // with only args) is not built by itself.
        let own_build = bodies
            .iter()
            .any(|b| b.get("context").is_some() || b.get("dockerfile").is_some());
        if inherited.contains(*name) && !grouped.contains(*name) && !own_build {
            continue;
        }
        // One build per combination of a matrix; a matrix that is not understood (or too
        // large) builds once, with what uses its values unresolved.
        let matrix = bodies.iter().rev().find_map(|b| b.get("matrix"));
        let template = bodies.iter().rev().find_map(|b| b.get("name"));
        let combinations = match matrix.map(|m| vars.combinations(m)) {
            Some(Ok(combinations)) => combinations.into_iter().map(Some).collect(),
            None | Some(Err(_)) => vec![None],
        };
        let mut seen = Vec::new();
        for combination in combinations {
            let own = combination.map(|c| vars.with_matrix(c));
            let own = own.as_ref().unwrap_or(&vars);
            let target = resolve(name, &targets, &vars, own, 0);
            if target.inline {
                continue;
            }
            let context = target.context.unwrap_or_else(|| ".".to_owned());
            let dockerfile = target.dockerfile.unwrap_or_else(|| "Dockerfile".to_owned());
            let Some(path) = dockerfile_of(&first.rel, &context, &dockerfile) else {
                continue;
            };
            let build = (path, target.args, target.contexts);
            if seen.contains(&build) {
                continue;
            }
            seen.push(build.clone());
            let (path, args, contexts) = build;
            out.push((
                path,
                BuildDefinition {
                    origin: format!(
                        "`{}` target `{}`",
                        first.rel,
                        target_name(name, template, own)
                    ),
                    args,
                    contexts,
                },
            ));
        }
    }
    out
}

/// The name of one build of target `name`: its `name` template expanded for a matrix
/// combination, else the label with the combination's values.
fn target_name(name: &str, template: Option<&Expr>, vars: &Vars<'_>) -> String {
    if vars.matrix.is_empty() {
        return name.to_owned();
    }
    if let Some(Ok(expanded)) = template.and_then(|t| vars.string(t)) {
        return expanded;
    }
    let values: Vec<String> = vars
        .matrix
        .iter()
        .map(|(k, v)| format!("{k}={}", describe(v)))
        .collect();
    format!("{name}({})", values.join(", "))
}

/// A matrix value as bake's JSON-like notation shows it, for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(describe).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k}={}", describe(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Null => "null".to_owned(),
        other => other.text().unwrap_or_default(),
    }
}

/// Target `name` with what it inherits (inherited first, its own attributes win).
/// `own` expands the target's own attributes (with its matrix values), `vars` what it
/// inherits.
fn resolve(
    name: &str,
    targets: &BTreeMap<&str, Vec<&Body>>,
    vars: &Vars<'_>,
    own: &Vars<'_>,
    depth: usize,
) -> Target {
    let mut target = Target::default();
    let Some(bodies) = targets.get(name) else {
        return target;
    };
    for body in bodies {
        if let Some(Expr::List(parents)) = body.get("inherits") {
            for parent in parents {
                if let Some(Ok(parent)) = vars.string(parent) {
                    if depth < MAX_CHAIN && parent != name {
                        let base = resolve(&parent, targets, vars, vars, depth + 1);
                        target.context = base.context.or(target.context);
                        target.dockerfile = base.dockerfile.or(target.dockerfile);
                        target.inline |= base.inline;
                        target.args.extend(base.args);
                        target.contexts.extend(base.contexts);
                    }
                }
            }
        }
    }
    for body in bodies {
        for (key, value) in &body.attrs {
            match key.as_str() {
                "context" => target.context = own.string(value).and_then(Result::ok),
                "dockerfile" => target.dockerfile = own.string(value).and_then(Result::ok),
                "dockerfile-inline" => target.inline = true,
                "args" => {
                    for (arg, value) in entries(value) {
                        // An arg without a known value leaves the Dockerfile's default.
                        if let Some(Ok(value)) = own.string(value) {
                            target.args.insert(arg.clone(), value);
                        }
                    }
                }
                "contexts" => {
                    for (context, value) in entries(value) {
                        let named = match own.string(value) {
                            Some(Ok(value)) => named_context(&value),
                            Some(Err(variable)) => NamedContext::Unresolved(variable),
                            None => continue,
                        };
                        target.contexts.insert(context.clone(), named);
                    }
                }
                _ => {}
            }
        }
    }
    target
}

fn entries(expr: &Expr) -> &[(String, Expr)] {
    match expr {
        Expr::Object(entries) => entries,
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceKind;

    fn builds_of(text: &str) -> Vec<(String, BuildDefinition)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker-bake.hcl");
        std::fs::write(&path, text).unwrap();
        let file = SourceFile {
            path,
            rel: "docker-bake.hcl".to_owned(),
            kind: SourceKind::Bake,
        };
        builds(&[&file])
    }

    #[test]
    fn matrix_builds_are_named_by_their_template_and_identical_ones_merge() {
        // Six combinations, three distinct builds: `arch` is not used by any arg.
        let out = builds_of(
            r#"
target "alpine" {
  name = "alpine-${replace(v.version, ".", "-")}"
  matrix = {
    v = [for p in ["3.21", "3.22", "edge"] : { version = p }]
    arch = ["amd64", "arm64"]
  }
  args = { BASE = "alpine:${v.version}" }
}
target "plain" {
  matrix = { tag = ["1"] }
  dockerfile = "Dockerfile.${tag}"
}
"#,
        );
        let shown: Vec<(String, String, Option<String>)> = out
            .iter()
            .map(|(path, d)| (path.clone(), d.origin.clone(), d.args.get("BASE").cloned()))
            .collect();
        let row = |path: &str, name: &str, base: Option<&str>| {
            (
                path.to_owned(),
                format!("`docker-bake.hcl` target `{name}`"),
                base.map(str::to_owned),
            )
        };
        assert_eq!(
            shown,
            [
                row("Dockerfile", "alpine-3-21", Some("alpine:3.21")),
                row("Dockerfile", "alpine-3-22", Some("alpine:3.22")),
                row("Dockerfile", "alpine-edge", Some("alpine:edge")),
                row("Dockerfile.1", "plain(tag=1)", None),
            ]
        );
    }
}
