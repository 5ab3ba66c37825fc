//! GitHub workflows and actions: job containers, service containers and `docker://` steps.
//!
//! - `jobs.<id>.container`: a string, or a mapping with `image`;
//! - `jobs.<id>.services.<name>.image`;
//! - `jobs.<id>.steps[].uses: docker://<ref>` (the span leaves out `docker://`);
//! - in an action's `action.yml`: `runs.image: docker://<ref>` and `runs.steps[].uses`.
//!
//! An empty image means "no container" to GitHub and is skipped. `${{ … }}` anywhere in a
//! value leaves it unresolved.

use std::rc::Rc;

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
    if let Some(container) = job.get("container") {
        let (image, path) = if container.is_map() {
            (container.get("image"), format!("jobs.{id}.container.image"))
        } else {
            (Some(container), format!("jobs.{id}.container"))
        };
        if let Some(image) = image.filter(|i| i.as_str() != Some("")) {
            sink.image(
                image,
                &path,
                Want::new(Context::GithubContainer, Flavor::Github),
            );
        }
    }
    if let Some(services) = job.get("services") {
        for (name, service) in services.entries() {
            if let Some(image) = service.get("image").filter(|i| i.as_str() != Some("")) {
                let path = format!("jobs.{id}.services.{name}.image");
                sink.image(
                    image,
                    &path,
                    Want::new(Context::GithubService, Flavor::Github),
                );
            }
        }
    }
    steps(job, &format!("jobs.{id}"), sink);
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
