//! Kubernetes manifests: the containers of every pod spec a workload carries.
//!
//! Known kinds and where their pod spec sits: `Pod` (`spec`), `PodTemplate`
//! (`template.spec`), `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`,
//! `ReplicationController`, `Job` (`spec.template.spec`), `CronJob`
//! (`spec.jobTemplate.spec.template.spec`), and `List`/`*List` (`items`, recursively). Any
//! other kind whose `spec.template.spec` holds `containers` (Argo Rollouts, Knative, most
//! operators' workloads) is read the same way. Documents without `apiVersion` and `kind` are
//! not manifests (Helm values, other configuration) and are ignored.

use std::rc::Rc;

use super::tree::Node;
use super::{Flavor, Sink, Want};
use crate::Context;

/// How deep `List` items may nest.
const MAX_LIST_DEPTH: usize = 16;

/// Whether the document is a Kubernetes object.
pub(crate) fn is_manifest(doc: &Node) -> bool {
    doc.get("apiVersion").is_some() && doc.get("kind").is_some_and(|k| k.as_str().is_some())
}

/// Reads the images of one manifest.
pub(crate) fn extract(doc: &Rc<Node>, sink: &mut Sink<'_>) {
    object(doc, "", sink, 0);
}

fn object(doc: &Rc<Node>, path: &str, sink: &mut Sink<'_>, depth: usize) {
    let Some(kind) = doc.get("kind").and_then(|k| k.as_str()) else {
        return;
    };
    if kind.ends_with("List") {
        if depth >= MAX_LIST_DEPTH {
            // Refused, not dropped: what a deeper list holds would go unchecked.
            return sink.problem(
                doc.span.start,
                format!("`{path}items`: `List` nested deeper than {MAX_LIST_DEPTH} levels"),
            );
        }
        let Some(items) = doc.get("items") else {
            return;
        };
        for (i, item) in items.items().iter().enumerate() {
            // Aliased items are walked once: repeated aliases must not multiply the work.
            if sink.first_visit(item) && is_manifest(item) {
                object(item, &format!("{path}items[{i}]."), sink, depth + 1);
            }
        }
        return;
    }
    let keys: &[&str] = match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &["spec", "template", "spec"],
    };
    let Some(spec) = doc.at(keys) else { return };
    pod_spec(spec, &format!("{path}{}", keys.join(".")), sink);
}

fn pod_spec(spec: &Node, path: &str, sink: &mut Sink<'_>) {
    let lists = [
        ("containers", Context::KubernetesContainer),
        ("initContainers", Context::KubernetesInitContainer),
        ("ephemeralContainers", Context::KubernetesEphemeralContainer),
    ];
    for (field, context) in lists {
        let Some(list) = spec.get(field) else {
            continue;
        };
        for (i, container) in list.items().iter().enumerate() {
            if let Some(image) = container.get("image") {
                sink.image(
                    image,
                    &format!("{path}.{field}[{i}].image"),
                    Want::new(context, Flavor::Kubernetes),
                );
            }
        }
    }
}
