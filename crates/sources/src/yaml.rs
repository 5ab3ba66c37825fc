//! YAML sources: compose files, Kubernetes manifests, GitHub workflows, GitLab CI.
//!
//! Every YAML kind goes through one reader ([`tree`]) that keeps the exact byte span of each
//! scalar, so `pin` can write a digest inside the very quotes the user wrote. The walkers for
//! each kind ([`compose`], [`kubernetes`], [`github`], [`gitlab`]) only know where image
//! values live; turning a value into an [`Occurrence`] or a [`Problem`] happens once, here.
//!
//! Rules shared by every kind:
//! - each scalar is reported once, even when aliases or merge keys reach it from several
//!   places (the occurrence sits at the anchor's text, which is what `pin` must edit);
//! - `literal` is the value's own span for plain or quoted one-line scalars written without
//!   escapes; block scalars, folded or escaped text give `literal: None`;
//! - what the YAML spec refuses but libyaml reads (docker compose, kubectl and GitLab read
//!   YAML with libyaml or its Go port) is read as libyaml does, see [`lenient`];
//! - invalid YAML is one [`Problem`] with the parser's message, except for files of kind
//!   [`SourceKind::Kubernetes`] that contain `{{`: those are Go templates, listed as not
//!   checked ([`NotCheckedReason::Template`]) instead.
//!
//! Kustomizations ([`kustomize`]) and Helm values ([`helm`]) take facts from other files
//! through the [`crate::FileContext`]: the `images:` overrides on the way to a resource
//! file, a chart's `appVersion`.
//!
//! Files that discovery classifies as [`SourceKind::Kubernetes`] (any other YAML) are read per
//! document: a document with top-level `apiVersion` and `kind` is a manifest; a GitHub
//! action's metadata (`runs.using`, as in `action.yml`) is read like a workflow; anything
//! else is ignored. A YAML file is GitLab CI only by name or because a GitLab CI file
//! includes it (the [`crate::Project`] says so), never because of its shape: `image:` and
//! `services:` keys are common in other tools' configuration.

mod comments;
mod compose;
mod digest;
mod github;
pub(crate) mod gitlab;
mod helm;
pub(crate) mod interpolate;
mod kubernetes;
mod kustomize;
mod lenient;
mod matrix;
mod scalar;
pub(crate) mod tree;

pub(crate) use compose::builds as compose_builds;
pub(crate) use interpolate::{interpolate_with, Env};

use std::collections::HashSet;
use std::rc::Rc;

use portcullis_reference::ImageRef;

use crate::text::LineIndex;
use crate::{
    Context, Literal, LiteralForm, NotCheckedReason, Occurrence, Problem, ProblemKind, Resolution,
    SourceFile, SourceKind,
};
use interpolate::{GitlabVars, Resolved};
use tree::{Kind, Node};

pub(crate) use comments::inline_comments;

/// Parses one YAML source file of any YAML kind.
pub(crate) fn parse(
    file: &SourceFile,
    text: &str,
    context: crate::FileContext<'_>,
) -> (Vec<Occurrence>, Vec<Problem>, Option<NotCheckedReason>) {
    if file.kind == SourceKind::HelmTemplate {
        return (Vec::new(), Vec::new(), Some(NotCheckedReason::HelmTemplate));
    }
    let no_env = Env::new();
    let env = context.env().unwrap_or(&no_env);
    let mut sink = Sink::new(file, text);
    let mut not_checked = None;
    match tree::parse_documents(text) {
        Ok(docs) => {
            for doc in &docs {
                match file.kind {
                    SourceKind::Compose => compose::extract(doc, &mut sink, env),
                    SourceKind::GithubWorkflow => github::extract(doc, &mut sink),
                    SourceKind::GitlabCi => gitlab::extract(doc, &mut sink, context.gitlab()),
                    SourceKind::Kustomization => kustomize::extract(doc, &mut sink),
                    SourceKind::HelmValues => helm::extract(doc, context.app_version, &mut sink),
                    SourceKind::Kubernetes if kubernetes::is_manifest(doc) => {
                        kubernetes::extract(doc, &mut sink);
                    }
                    SourceKind::Kubernetes if github::is_action(doc) => {
                        github::extract(doc, &mut sink);
                    }
                    SourceKind::Kubernetes
                    | SourceKind::Dockerfile
                    | SourceKind::HelmTemplate
                    | SourceKind::Bake => {}
                }
            }
        }
        Err(_) if file.kind == SourceKind::Kubernetes && text.contains("{{") => {
            not_checked = Some(NotCheckedReason::Template);
        }
        Err(error) => sink.problem(error.offset, format!("invalid YAML: {}", error.message)),
    }
    let (occurrences, problems) = sink.finish();
    let occurrences = if file.kind == SourceKind::Kubernetes {
        kustomize::apply_overrides(occurrences, context.kustomize)
    } else {
        occurrences
    };
    (occurrences, problems, not_checked)
}

/// How variables inside an image value are read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Flavor<'v> {
    Compose(&'v Env),
    Kubernetes,
    Github,
    Gitlab(&'v GitlabVars),
}

/// What the walker knows about an image value it hands over.
#[derive(Debug, Clone)]
pub(crate) struct Want<'v> {
    pub(crate) context: Context,
    pub(crate) flavor: Flavor<'v>,
    pub(crate) platform: Option<String>,
    /// Bytes of the value to skip (`docker://`).
    pub(crate) prefix: usize,
}

impl<'v> Want<'v> {
    pub(crate) fn new(context: Context, flavor: Flavor<'v>) -> Self {
        Self {
            context,
            flavor,
            platform: None,
            prefix: 0,
        }
    }
}

/// Collects occurrences and problems of one file.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    file: &'a SourceFile,
    text: &'a str,
    lines: LineIndex<'a>,
    /// Spans of scalars already reported (aliases reach the same scalar more than once).
    seen: HashSet<(usize, usize)>,
    /// Expanded values already reported at a span (a matrix value recurs in combinations).
    seen_expanded: HashSet<(usize, usize, String)>,
    /// Nodes already walked where aliases could make the walk repeat (Kubernetes lists).
    visited: HashSet<*const Node>,
    occurrences: Vec<Occurrence>,
    problems: Vec<Problem>,
}

impl<'a> Sink<'a> {
    fn new(file: &'a SourceFile, text: &'a str) -> Self {
        Self {
            file,
            text,
            lines: LineIndex::new(text),
            seen: HashSet::new(),
            seen_expanded: HashSet::new(),
            visited: HashSet::new(),
            occurrences: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn finish(mut self) -> (Vec<Occurrence>, Vec<Problem>) {
        self.occurrences
            .sort_by_key(|o| (o.location.span.start, o.location.span.end));
        self.problems.sort_by_key(|p| (p.line, p.column));
        (self.occurrences, self.problems)
    }

    /// The file's name relative to the root.
    pub(crate) fn file_name(&self) -> &str {
        &self.file.rel
    }

    /// Whether `node` is walked for the first time.
    pub(crate) fn first_visit(&mut self, node: &Rc<Node>) -> bool {
        self.visited.insert(Rc::as_ptr(node))
    }

    /// Records a problem at byte `offset`.
    pub(crate) fn problem(&mut self, offset: usize, message: String) {
        self.problem_of(ProblemKind::FileInvalid, offset, message);
    }

    /// Records a value in an image position that is not a valid reference.
    pub(crate) fn bad_reference(&mut self, offset: usize, message: String) {
        self.problem_of(ProblemKind::ReferenceInvalid, offset, message);
    }

    fn problem_of(&mut self, kind: ProblemKind, offset: usize, message: String) {
        let (line, column) = self.lines.line_col(offset.min(self.text.len()));
        self.problems.push(Problem {
            kind,
            file: self.file.rel.clone(),
            line: Some(line),
            column: Some(column),
            message,
        });
    }

    /// Reports `value`, an image value expanded from variables, at the scalar `at` whose
    /// value it took; `whole` when `at`'s text alone is the reference (then `pin` edits it).
    /// An empty value means no image.
    pub(crate) fn expanded(
        &mut self,
        at: &Node,
        value: &str,
        whole: bool,
        path: &str,
        want: Want<'_>,
    ) {
        let Kind::Scalar(scalar) = &at.kind else {
            return;
        };
        let span = scalar
            .exact
            .clone()
            .unwrap_or_else(|| scalar.source.clone());
        let value = value.trim();
        if value.is_empty()
            || !self
                .seen_expanded
                .insert((span.start, span.end, value.to_owned()))
        {
            return;
        }
        let image = match ImageRef::parse(value) {
            Ok(image) => image,
            Err(error) => {
                return self.bad_reference(span.start, format!("`{path}` = `{value}`: {error}"))
            }
        };
        let literal = scalar.exact.clone().filter(|_| whole).map(|span| Literal {
            text: self.text[span.clone()].to_owned(),
            span,
            form: LiteralForm::Reference,
        });
        self.occurrences.push(Occurrence {
            location: self.lines.location(&self.file.rel, span.clone()),
            text: self.text.get(span).unwrap_or_default().to_owned(),
            resolution: Resolution::Image(image),
            context: want.context,
            platform: want.platform,
            literal,
        });
    }

    /// Reads an image value at `path` (a dotted path used in messages).
    pub(crate) fn image(&mut self, node: &Node, path: &str, want: Want<'_>) {
        if !self.seen.insert((node.span.start, node.span.end)) {
            return;
        }
        let scalar = match &node.kind {
            Kind::Scalar(s) if s.is_null() => {
                return self.bad_reference(
                    node.span.start,
                    format!("`{path}` is empty; expected an image reference"),
                );
            }
            Kind::Scalar(s) if !s.is_string() => {
                let message = format!(
                    "`{path}` must be an image reference string, found `{}`",
                    s.value
                );
                return self.bad_reference(node.span.start, message);
            }
            Kind::Scalar(s) => s,
            Kind::Map(_) | Kind::Seq(_) => {
                let what = if node.is_map() {
                    "a mapping"
                } else {
                    "a sequence"
                };
                let message = format!("`{path}` must be an image reference string, found {what}");
                return self.bad_reference(node.span.start, message);
            }
        };
        let value = scalar.value.get(want.prefix..).unwrap_or_default();
        let exact = scalar
            .exact
            .clone()
            .map(|r| (r.start + want.prefix).min(r.end)..r.end);
        let span = exact.clone().unwrap_or_else(|| scalar.source.clone());
        let at = exact.map(|r| r.start);
        let resolved = match want.flavor {
            Flavor::Compose(env) => match interpolate::compose(value, at, env) {
                Ok(resolved) => resolved,
                Err(bad) => {
                    return self
                        .bad_reference(span.start, format!("`{path}`: {} in `{value}`", bad.0))
                }
            },
            Flavor::Kubernetes => interpolate::kubernetes(value, at),
            Flavor::Github => interpolate::github(value, at),
            Flavor::Gitlab(vars) => interpolate::gitlab(value, at, vars),
        };
        let (resolution, literal) = match resolved {
            Resolved::Unresolved(variable) => (Resolution::Unresolved { variable }, None),
            Resolved::Text { value, literal } => match ImageRef::parse(value.trim()) {
                Ok(image) => (
                    Resolution::Image(image),
                    literal.filter(|l| self.text.get(l.clone()).is_some()),
                ),
                Err(error) => return self.bad_reference(span.start, format!("`{path}`: {error}")),
            },
        };
        let literal = literal.map(|span| Literal {
            text: self.text[span.clone()].to_owned(),
            span,
            form: LiteralForm::Reference,
        });
        self.occurrences.push(Occurrence {
            location: self.lines.location(&self.file.rel, span.clone()),
            text: self.text.get(span).unwrap_or_default().to_owned(),
            resolution,
            context: want.context,
            platform: want.platform,
            literal,
        });
    }
}

impl Sink<'_> {
    /// Records an image put together from several values (a kustomization entry, a Helm
    /// image map), located at `node`; `literal` is where `pin` writes its digest.
    pub(crate) fn composed(
        &mut self,
        node: &Node,
        path: &str,
        image: &str,
        literal: Option<Literal>,
        context: Context,
    ) {
        if !self.seen.insert((node.span.start, node.span.end)) {
            return;
        }
        let span = node.scalar().map_or(node.span.clone(), |s| {
            s.exact.clone().unwrap_or(s.source.clone())
        });
        let (resolution, literal) = if let Some(i) = image.find("{{") {
            let end = image[i..].find("}}").map_or(image.len(), |j| i + j + 2);
            let variable = image[i..end].to_owned();
            (Resolution::Unresolved { variable }, None)
        } else {
            match ImageRef::parse(image) {
                Ok(parsed) => (Resolution::Image(parsed), literal),
                Err(error) => {
                    return self.bad_reference(span.start, format!("`{path}`: {error}"));
                }
            }
        };
        self.occurrences.push(Occurrence {
            location: self.lines.location(&self.file.rel, span.clone()),
            text: self.text.get(span).unwrap_or_default().to_owned(),
            resolution,
            context,
            platform: None,
            literal,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(kind: SourceKind, rel: &str) -> SourceFile {
        SourceFile {
            path: rel.into(),
            rel: rel.to_owned(),
            kind,
        }
    }

    #[test]
    fn invalid_yaml_is_one_problem_with_position() {
        let (occ, problems, _) = parse(
            &file(SourceKind::Compose, "compose.yaml"),
            "services:\n  web: [a\n  b: c\n",
            crate::FileContext::default(),
        );
        assert!(occ.is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].message.starts_with("invalid YAML: "),
            "{problems:?}"
        );
        assert_eq!(problems[0].file, "compose.yaml");
        assert!(problems[0].line.is_some_and(|l| l >= 2));
    }

    #[test]
    fn broken_templates_are_listed_not_checked_but_broken_workflows_are_problems() {
        let text = "spec:\n  containers:\n  {{- range .Values.x }}\n  - image: {{ .image }}\n";
        assert_eq!(
            parse(
                &file(SourceKind::Kubernetes, "deploy/d.yaml"),
                text,
                crate::FileContext::default()
            ),
            (vec![], vec![], Some(NotCheckedReason::Template))
        );
        // A Helm template is not even parsed, valid YAML or not.
        assert_eq!(
            parse(
                &file(SourceKind::HelmTemplate, "chart/templates/d.yaml"),
                "kind: Pod\nspec:\n  containers:\n  - image: nginx\n",
                crate::FileContext::default()
            ),
            (vec![], vec![], Some(NotCheckedReason::HelmTemplate))
        );
        let (_, problems, _) = parse(
            &file(SourceKind::GithubWorkflow, ".github/workflows/ci.yml"),
            "jobs: [\n{{ x",
            crate::FileContext::default(),
        );
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn non_string_image_values_are_problems_naming_the_value() {
        let text = "services:\n  a:\n    image: 42\n  b:\n    image: {name: x}\n  c:\n    image:\n";
        let (occ, problems, _) = parse(
            &file(SourceKind::Compose, "compose.yaml"),
            text,
            crate::FileContext::default(),
        );
        assert!(occ.is_empty());
        let messages: Vec<_> = problems
            .iter()
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                (
                    Some(3),
                    "`services.a.image` must be an image reference string, found `42`"
                ),
                (
                    Some(5),
                    "`services.b.image` must be an image reference string, found a mapping"
                ),
                (
                    Some(7),
                    "`services.c.image` is empty; expected an image reference"
                ),
            ]
        );
    }
}
