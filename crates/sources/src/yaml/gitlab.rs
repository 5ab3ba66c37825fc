//! GitLab CI: `image` and `services` at the top level, in `default:`, and in every job
//! (hidden `.template` jobs included).
//!
//! `image` is a string or a mapping with `name` (its `docker.platform` becomes the
//! occurrence's platform); `services` is a list of strings or `name` mappings.
//!
//! `!reference [.job, key, …]` stands for the value at that path, as GitLab resolves it
//! (nested references up to ten deep; a reference inside a list that points to a list is
//! spliced into it). The occurrence sits at the scalar the reference points to, which is
//! the text `pin` edits, and is reported once however many references reach it. A
//! reference to a path that does not exist is a `reference-invalid` problem naming the
//! path; one whose first key another file of the pipeline defines is left to that file.
//!
//! Variables: `$VAR`/`${VAR}` naming a variable defined in the pipeline (the job's
//! `variables:` over the global ones, a plain value or `{ value: … }`) resolves to its
//! value; any other variable (`$CI_REGISTRY_IMAGE`…) leaves the reference unresolved. The
//! global variables are the pipeline's: those of the files it includes locally, merged as
//! GitLab merges them (the including file wins), when the file is read as part of a
//! [`crate::Project`]. When the image value is exactly one such variable, the variable is
//! defined in the same file and its value is plain text, the occurrence's `literal` is the
//! variable's value in `variables:`: that is the text `pin` edits (several occurrences may
//! then share one literal span).
//!
//! Which YAML files are GitLab CI is decided by name (`.gitlab-ci.yml`,
//! `*.gitlab-ci.yml`) and by inclusion (see `project::gitlab`), never by shape.

use std::rc::Rc;

use super::interpolate::{GitlabVar, GitlabVars};
use super::tree::{Kind, Node};
use super::{Flavor, Sink, Want};
use crate::project::gitlab::{Export, Pipeline};
use crate::Context;

/// Top-level keys that are not jobs.
const RESERVED: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
];

/// The tag GitLab reads as a reference to another part of the configuration.
const REFERENCE: &str = "!reference";

/// How many `!reference`s may chain (GitLab's own limit).
const MAX_REFERENCE_DEPTH: usize = 10;

/// How many references one lookup may pass through, so that chains of long key lists
/// cannot make one lookup exponential.
const MAX_REFERENCE_STEPS: usize = 1000;

/// The document references are looked up in, and the pipeline it belongs to.
#[derive(Clone, Copy)]
struct Scope<'d, 'p> {
    doc: &'d Rc<Node>,
    pipeline: Option<&'p Pipeline>,
}

impl<'d> Scope<'d, '_> {
    /// `node`, or what its `!reference` points to. `Ok(None)`: the reference names a key
    /// that another file of the pipeline defines.
    fn deref(&self, node: &'d Rc<Node>) -> Result<Option<&'d Rc<Node>>, String> {
        self.deref_in(node, 0, &mut 0)
    }

    fn deref_in(
        &self,
        node: &'d Rc<Node>,
        depth: usize,
        steps: &mut usize,
    ) -> Result<Option<&'d Rc<Node>>, String> {
        if node.tag.as_deref() != Some(REFERENCE) {
            return Ok(Some(node));
        }
        if depth >= MAX_REFERENCE_DEPTH {
            return Err(format!(
                "`!reference`s chain deeper than {MAX_REFERENCE_DEPTH} levels"
            ));
        }
        *steps += 1;
        if *steps > MAX_REFERENCE_STEPS {
            return Err(format!(
                "`!reference`s lead through more than {MAX_REFERENCE_STEPS} references"
            ));
        }
        let keys: Option<Vec<&str>> = node
            .items()
            .iter()
            .map(|k| k.scalar().map(|s| s.value.as_str()))
            .collect();
        match keys {
            Some(keys) if matches!(node.kind, Kind::Seq(_)) => self.follow_in(&keys, depth, steps),
            _ => Err("`!reference` must be a list of keys such as `[.job, image]`".to_owned()),
        }
    }

    /// The node at `keys` from the top of the document, references on the way resolved.
    fn follow(&self, keys: &[&str]) -> Result<Option<&'d Rc<Node>>, String> {
        self.follow_in(keys, 0, &mut 0)
    }

    fn follow_in(
        &self,
        keys: &[&str],
        depth: usize,
        steps: &mut usize,
    ) -> Result<Option<&'d Rc<Node>>, String> {
        let shown = keys.join(", ");
        let Some((first, rest)) = keys.split_first() else {
            return Err("`!reference` must be a list of keys such as `[.job, image]`".to_owned());
        };
        let Some(mut target) = self.doc.get(first) else {
            if self.pipeline.is_some_and(|p| p.defines(first)) {
                return Ok(None);
            }
            return Err(format!(
                "`!reference [{shown}]` points to nothing: `{first}` is not defined"
            ));
        };
        let mut path = (*first).to_owned();
        for key in rest {
            let Some(inner) = self.deref_in(target, depth + 1, steps)? else {
                return Ok(None);
            };
            target = inner.get(key).ok_or_else(|| {
                format!("`!reference [{shown}]` points to nothing: `{path}` has no `{key}`")
            })?;
            path = format!("{path}.{key}");
        }
        self.deref_in(target, depth + 1, steps)
    }

    /// [`Scope::deref`], reporting a broken reference as a problem about `path`.
    fn resolve(&self, node: &'d Rc<Node>, path: &str, sink: &mut Sink<'_>) -> Option<&'d Rc<Node>> {
        match self.deref(node) {
            Ok(found) => found,
            Err(message) => {
                sink.bad_reference(node.span.start, format!("`{path}`: {message}"));
                None
            }
        }
    }
}

/// Reads the images of one GitLab CI document; `pipeline` is what the other files of its
/// pipeline define.
pub(crate) fn extract(doc: &Rc<Node>, sink: &mut Sink<'_>, pipeline: Option<&Pipeline>) {
    if !doc.is_map() {
        return;
    }
    let scope = Scope { doc, pipeline };
    let mut globals = GitlabVars::new();
    add_variables(scope, doc.get("variables"), &mut globals);
    if let Some(pipeline) = pipeline {
        for (name, (var, file)) in &pipeline.variables {
            if *file != sink.file_name() || !globals.contains_key(name) {
                // `pin` edits one file: a value written in another file has no literal here.
                let span = if *file == sink.file_name() {
                    var.span.clone()
                } else {
                    None
                };
                globals.insert(
                    name.clone(),
                    GitlabVar {
                        span,
                        ..var.clone()
                    },
                );
            }
        }
    }
    images(scope, doc, "", sink, &globals);
    if let Some(default) = doc.get("default") {
        images(scope, default, "default.", sink, &globals);
    }
    for (name, job) in doc.entries() {
        if RESERVED.contains(&name) || !job.is_map() {
            continue;
        }
        let mut vars = globals.clone();
        add_variables(scope, job.get("variables"), &mut vars);
        images(scope, job, &format!("{name}."), sink, &vars);
    }
    let exports = pipeline.map_or(&[][..], |p| p.exports(sink.file_name()));
    for export in exports {
        exported(scope, export, sink, &globals);
    }
}

/// What another file of the pipeline reads from this one through `!reference`.
fn exported(scope: Scope<'_, '_>, export: &Export, sink: &mut Sink<'_>, vars: &GitlabVars) {
    let keys: Vec<&str> = export.keys.iter().map(String::as_str).collect();
    let path = format!("!reference [{}]", keys.join(", "));
    let Some(first) = scope.doc.get(keys[0]) else {
        return;
    };
    let target = match scope.follow(&keys) {
        Ok(Some(target)) => target,
        Ok(None) => return,
        Err(message) => {
            let message = format!("referenced from `{}`: {message}", export.from);
            return sink.bad_reference(first.span.start, message);
        }
    };
    let list = if export.context == Context::GitlabService && matches!(target.kind, Kind::Seq(_)) {
        target.items()
    } else {
        std::slice::from_ref(target)
    };
    for item in list {
        if let Some(item) = scope.resolve(item, &path, sink) {
            entry(scope, item, &path, export.context, sink, vars);
        }
    }
}

/// The global `variables:` of one GitLab CI document (references resolved within it).
pub(crate) fn global_variables(doc: &Rc<Node>) -> GitlabVars {
    let mut vars = GitlabVars::new();
    if doc.is_map() {
        let scope = Scope {
            doc,
            pipeline: None,
        };
        add_variables(scope, doc.get("variables"), &mut vars);
    }
    vars
}

/// Adds the variables of a `variables:` mapping (plain values or `{ value, expand }`).
/// A broken `!reference` leaves its variable undefined (the image using it stays unresolved).
fn add_variables(scope: Scope<'_, '_>, variables: Option<&Rc<Node>>, vars: &mut GitlabVars) {
    let Some(Ok(Some(variables))) = variables.map(|v| scope.deref(v)) else {
        return;
    };
    for (name, value) in variables.entries() {
        let Ok(Some(value)) = scope.deref(value) else {
            continue;
        };
        let (node, raw) = if value.is_map() {
            let raw = value
                .get("expand")
                .and_then(|e| e.scalar())
                .is_some_and(|s| s.value == "false");
            match value.get("value").map(|v| scope.deref(v)) {
                Some(Ok(Some(v))) => (v, raw),
                _ => continue,
            }
        } else {
            (value, false)
        };
        let Some(scalar) = node.scalar() else {
            continue;
        };
        vars.insert(
            name.to_owned(),
            GitlabVar {
                value: scalar.value.clone(),
                span: scalar.exact.clone(),
                raw,
            },
        );
    }
}

/// The `image` and `services` of the top level, `default:` or a job.
fn images(
    scope: Scope<'_, '_>,
    node: &Rc<Node>,
    prefix: &str,
    sink: &mut Sink<'_>,
    vars: &GitlabVars,
) {
    if let Some(image) = node.get("image") {
        let path = format!("{prefix}image");
        if let Some(image) = scope.resolve(image, &path, sink) {
            entry(scope, image, &path, Context::GitlabImage, sink, vars);
        }
    }
    let path = format!("{prefix}services");
    let Some(services) = node
        .get("services")
        .and_then(|s| scope.resolve(s, &path, sink))
    else {
        return;
    };
    match &services.kind {
        Kind::Seq(items) => {
            let mut index = 0;
            for item in items {
                let path = format!("{path}[{index}]");
                let Some(target) = scope.resolve(item, &path, sink) else {
                    index += 1;
                    continue;
                };
                // GitLab flattens a referenced list into the list holding the reference.
                let spliced =
                    item.tag.as_deref() == Some(REFERENCE) && matches!(target.kind, Kind::Seq(_));
                let list = if spliced {
                    target.items()
                } else {
                    std::slice::from_ref(target)
                };
                for service in list {
                    let path = format!("{prefix}services[{index}]");
                    if let Some(service) = scope.resolve(service, &path, sink) {
                        entry(scope, service, &path, Context::GitlabService, sink, vars);
                    }
                    index += 1;
                }
            }
        }
        _ if services.is_null() => {}
        _ => sink.problem(
            services.span.start,
            format!("`{prefix}services` must be a list of images"),
        ),
    }
}

/// One image: a string, or a mapping with `name`.
fn entry(
    scope: Scope<'_, '_>,
    node: &Rc<Node>,
    path: &str,
    context: Context,
    sink: &mut Sink<'_>,
    vars: &GitlabVars,
) {
    let mut want = Want::new(context, Flavor::Gitlab(vars));
    if !node.is_map() {
        return sink.image(node, path, want);
    }
    want.platform = node
        .at(&["docker", "platform"])
        .and_then(|p| p.as_str())
        .map(str::to_owned);
    let path = format!("{path}.name");
    match node.get("name") {
        Some(name) => {
            if let Some(name) = scope.resolve(name, &path, sink) {
                sink.image(name, &path, want);
            }
        }
        None => sink.bad_reference(
            node.span.start,
            format!(
                "`{}` has no `name`; expected an image reference",
                &path[..path.len() - 5]
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse_documents;
    use super::*;

    #[test]
    fn a_lookup_stops_when_its_reference_budget_is_spent() {
        let doc = parse_documents(".a:\n  image: x:1\nb:\n  image: !reference [.a, image]\n")
            .unwrap()
            .remove(0);
        let scope = Scope {
            doc: &doc,
            pipeline: None,
        };
        let reference = doc.at(&["b", "image"]).unwrap();
        let found = scope.deref_in(reference, 0, &mut 0).unwrap().unwrap();
        assert_eq!(found.as_str(), Some("x:1"));
        let mut steps = MAX_REFERENCE_STEPS;
        let spent = scope.deref_in(reference, 0, &mut steps);
        assert_eq!(
            spent.unwrap_err(),
            "`!reference`s lead through more than 1000 references"
        );
    }
}
