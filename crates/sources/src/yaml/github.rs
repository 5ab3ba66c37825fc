//! GitHub workflows and actions: job containers, service containers and `docker://` steps.
//!
//! - `jobs.<id>.container`: a string, or a mapping with `image`;
//! - `jobs.<id>.services.<name>.image`;
//! - `jobs.<id>.steps[].uses: docker://<ref>` (the span leaves out `docker://`);
//! - in an action's `action.yml`: `runs.image: docker://<ref>` and `runs.steps[].uses`.
//!
//! An empty image means "no container" to GitHub and is skipped. `${{ matrix.… }}` in a
//! job's container or service image is expanded from the job's `strategy.matrix` (see
//! [`super::matrix`]): each resulting image is reported at the matrix value it uses (the
//! first one, when it uses several), with that value as the `literal` only when it is the
//! whole image value. Any other `${{ … }}`, or a matrix computed from an expression, leaves
//! the value unresolved.

use std::rc::Rc;

use super::matrix::{self, Combination};
use super::tree::Node;
use super::{Flavor, Sink, Want};
use crate::Context;

const DOCKER: &str = "docker://";

/// Whether a document is an action's metadata (`action.yml`): `runs.using` is set.
/// Discovery classifies `action.yml` as plain YAML, so this is decided on content.
pub(crate) fn is_action(doc: &Node) -> bool {
    doc.at(&["runs", "using"]).is_some()
}

/// Reads the images of one workflow (or action) document.
pub(crate) fn extract(doc: &Rc<Node>, sink: &mut Sink<'_>) {
    if let Some(jobs) = doc.get("jobs") {
        for (id, job) in jobs.entries() {
            job_images(id, job, sink);
        }
    }
    if let Some(runs) = doc.get("runs") {
        if let Some(image) = runs.get("image") {
            docker_uses(image, "runs.image", sink);
        }
        steps(runs, "runs", sink);
    }
}

fn job_images(id: &str, job: &Node, sink: &mut Sink<'_>) {
    let combos = matrix::combinations(job);
    let combos = combos.as_deref();
    if let Some(container) = job.get("container") {
        let (image, path) = if container.is_map() {
            (container.get("image"), format!("jobs.{id}.container.image"))
        } else {
            (Some(container), format!("jobs.{id}.container"))
        };
        if let Some(image) = image.filter(|i| i.as_str() != Some("")) {
            job_image(image, &path, Context::GithubContainer, combos, sink);
        }
    }
    if let Some(services) = job.get("services") {
        for (name, service) in services.entries() {
            if let Some(image) = service.get("image").filter(|i| i.as_str() != Some("")) {
                let path = format!("jobs.{id}.services.{name}.image");
                job_image(image, &path, Context::GithubService, combos, sink);
            }
        }
    }
    steps(job, &format!("jobs.{id}"), sink);
}

/// A container or service image, expanded per matrix combination when it uses the matrix.
fn job_image(
    image: &Node,
    path: &str,
    context: Context,
    combos: Option<&[Combination<'_>]>,
    sink: &mut Sink<'_>,
) {
    let want = Want::new(context, Flavor::Github);
    let expanded = combos
        .zip(image.as_str())
        .and_then(|(c, v)| matrix::expand(v, c));
    match expanded {
        Some(values) => {
            for value in values {
                sink.expanded(value.at, &value.value, value.whole, path, want.clone());
            }
        }
        None => sink.image(image, path, want),
    }
}

fn steps(parent: &Node, path: &str, sink: &mut Sink<'_>) {
    let Some(steps) = parent.get("steps") else {
        return;
    };
    for (i, step) in steps.items().iter().enumerate() {
        if let Some(uses) = step.get("uses") {
            docker_uses(uses, &format!("{path}.steps[{i}].uses"), sink);
        }
    }
}

fn docker_uses(node: &Node, path: &str, sink: &mut Sink<'_>) {
    if node.as_str().is_some_and(|u| u.starts_with(DOCKER)) {
        let mut want = Want::new(Context::GithubStep, Flavor::Github);
        want.prefix = DOCKER.len();
        sink.image(node, path, want);
    }
}
