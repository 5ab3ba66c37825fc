//! GitLab CI: `image` and `services` at the top level, in `default:`, and in every job
//! (hidden `.template` jobs included).
//!
//! `image` is a string or a mapping with `name` (its `docker.platform` becomes the
//! occurrence's platform); `services` is a list of strings or `name` mappings.
//!
//! Variables: `$VAR`/`${VAR}` naming a variable defined in the file (the job's `variables:`
//! over the top-level ones, a plain value or `{ value: … }`) resolves to its value; any other
//! variable (`$CI_REGISTRY_IMAGE`…) leaves the reference unresolved. When the image value is
//! exactly one such variable and that variable's value is plain text, the occurrence's
//! `literal` is the variable's value in `variables:`: that is the text `pin` edits (several
//! occurrences may then share one literal span).
//!
//! Which YAML files are GitLab CI: `.gitlab-ci.yml` (discovery says so), and files that
//! `include: local` pulls in, which discovery cannot tell from other YAML. For those,
//! [`looks_like`] decides on shape, strictly enough that Helm values (top-level
//! `image: {repository, tag}`) and other configuration are left alone.

use std::rc::Rc;

use super::interpolate::{GitlabVar, GitlabVars};
use super::tree::{Kind, Node};
use super::{Flavor, Sink, Want};
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

/// Keys only a GitLab job has.
const JOB_KEYS: &[&str] = &["script", "extends", "trigger", "run"];

/// Keys of `default:` that make it GitLab's.
const DEFAULT_KEYS: &[&str] = &[
    "image",
    "services",
    "before_script",
    "after_script",
    "tags",
    "retry",
    "interruptible",
    "cache",
    "artifacts",
];

/// Whether a document that is not a Kubernetes manifest is GitLab CI configuration: it has
/// `stages`, `include` or `workflow`; a `default` with GitLab keys; a top-level `image` that
/// is a string or has `name`; a top-level `services` list; a job with `script`, `extends`,
/// `trigger` or `run`; or a hidden `.job` with `image` or `services`.
pub(crate) fn looks_like(doc: &Node) -> bool {
    if !doc.is_map() {
        return false;
    }
    if ["stages", "include", "workflow"]
        .iter()
        .any(|k| doc.get(k).is_some())
    {
        return true;
    }
    if doc
        .get("default")
        .is_some_and(|d| DEFAULT_KEYS.iter().any(|k| d.get(k).is_some()))
    {
        return true;
    }
    if doc
        .get("image")
        .is_some_and(|i| i.as_str().is_some() || i.get("name").is_some())
    {
        return true;
    }
    if doc
        .get("services")
        .is_some_and(|s| matches!(s.kind, Kind::Seq(_)))
    {
        return true;
    }
    doc.entries().into_iter().any(|(name, job)| {
        !RESERVED.contains(&name)
            && job.is_map()
            && (JOB_KEYS.iter().any(|k| job.get(k).is_some())
                || (name.starts_with('.')
                    && (job.get("image").is_some() || job.get("services").is_some())))
    })
}

/// Reads the images of one GitLab CI document.
pub(crate) fn extract(doc: &Rc<Node>, sink: &mut Sink<'_>) {
    if !doc.is_map() {
        return;
    }
    let mut globals = GitlabVars::new();
    add_variables(doc.get("variables"), &mut globals);
    images(doc, "", sink, &globals);
    if let Some(default) = doc.get("default") {
        images(default, "default.", sink, &globals);
    }
    for (name, job) in doc.entries() {
        if RESERVED.contains(&name) || !job.is_map() {
            continue;
        }
        let mut vars = globals.clone();
        add_variables(job.get("variables"), &mut vars);
        images(job, &format!("{name}."), sink, &vars);
    }
}

/// Adds the variables of a `variables:` mapping (plain values or `{ value, expand }`).
fn add_variables(variables: Option<&Rc<Node>>, vars: &mut GitlabVars) {
    let Some(variables) = variables else { return };
    for (name, value) in variables.entries() {
        let (node, raw) = if value.is_map() {
            let raw = value
                .get("expand")
                .and_then(|e| e.scalar())
                .is_some_and(|s| s.value == "false");
            match value.get("value") {
                Some(v) => (v, raw),
                None => continue,
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
fn images(node: &Node, prefix: &str, sink: &mut Sink<'_>, vars: &GitlabVars) {
    if let Some(image) = node.get("image") {
        entry(
            image,
            &format!("{prefix}image"),
            Context::GitlabImage,
            sink,
            vars,
        );
    }
    let Some(services) = node.get("services") else {
        return;
    };
    match &services.kind {
        Kind::Seq(items) => {
            for (i, service) in items.iter().enumerate() {
                entry(
                    service,
                    &format!("{prefix}services[{i}]"),
                    Context::GitlabService,
                    sink,
                    vars,
                );
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
fn entry(node: &Node, path: &str, context: Context, sink: &mut Sink<'_>, vars: &GitlabVars) {
    let mut want = Want::new(context, Flavor::Gitlab(vars));
    if !node.is_map() {
        return sink.image(node, path, want);
    }
    want.platform = node
        .at(&["docker", "platform"])
        .and_then(|p| p.as_str())
        .map(str::to_owned);
    match node.get("name") {
        Some(name) => sink.image(name, &format!("{path}.name"), want),
        None => sink.bad_reference(
            node.span.start,
            format!("`{path}` has no `name`; expected an image reference"),
        ),
    }
}
