//! Kubernetes manifests: the containers of every pod spec a workload carries.
//!
//! Known kinds and where their pod spec sits: `Pod` (`spec`), `PodTemplate`
//! (`template.spec`), `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`,
//! `ReplicationController`, `Job` (`spec.template.spec`), `CronJob`
//! (`spec.jobTemplate.spec.template.spec`), and `List`/`*List` (`items`, recursively). Any
//! other kind whose `spec.template.spec` holds `containers` (Argo Rollouts, Knative, most
//! operators' workloads) is read the same way. Documents without `apiVersion` and `kind` are
//! not manifests (Helm values, other configuration) and are ignored.
//!
//! Custom resources (an `apiVersion` group with a `.` that is not a `*.k8s.io` group:
//! `Prometheus`, `Alertmanager`, `ThanosRuler`, operators' CRs) also name images in fields of
//! their own: there every mapping key `image` at any depth whose value is a string that
//! reads as an image reference is one. Values that do not (an empty string, a URL, a path,
//! a template) are the CR's business, not references, and are neither reported nor
//! problems.

use std::rc::Rc;

use portcullis_reference::ImageRef;

use super::tree::Node;
use super::{Flavor, Sink, Want};
use crate::Context;

/// How deep `List` items may nest.
const MAX_LIST_DEPTH: usize = 16;
/// How deep a custom resource is searched for `image` keys.
const MAX_CR_DEPTH: usize = 64;

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
    if let Some(spec) = doc.at(keys) {
        pod_spec(spec, &format!("{path}{}", keys.join(".")), sink);
    }
    if is_custom_resource(doc) {
        // After the pod specs, so their containers keep their own contexts.
        image_fields(doc, path.trim_end_matches('.'), sink, 0);
    }
}

/// Whether the object's `apiVersion` names a group outside Kubernetes' own (`v1`, `apps/v1`,
/// `networking.k8s.io/v1` are built in; `monitoring.coreos.com/v1` is not).
fn is_custom_resource(doc: &Node) -> bool {
    let Some(api_version) = doc.get("apiVersion").and_then(|v| v.as_str()) else {
        return false;
    };
    let Some((group, _)) = api_version.split_once('/') else {
        return false;
    };
    group.contains('.') && !group.ends_with(".k8s.io") && group != "k8s.io"
}

/// Every `image: <reference>` string in `node`.
fn image_fields(node: &Rc<Node>, path: &str, sink: &mut Sink<'_>, depth: usize) {
    // The object itself may have been visited as a `List` item; what it holds has not.
    if depth >= MAX_CR_DEPTH || (depth > 0 && !sink.first_visit(node)) {
        return;
    }
    if node.is_map() {
        for (key, value) in node.entries() {
            let here = if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            };
            if key == "image" && is_image_string(value) {
                sink.image(
                    value,
                    &here,
                    Want::new(Context::KubernetesImage, Flavor::Kubernetes),
                );
            } else {
                image_fields(value, &here, sink, depth + 1);
            }
        }
    } else {
        for (i, item) in node.items().iter().enumerate() {
            image_fields(item, &format!("{path}[{i}]"), sink, depth + 1);
        }
    }
}

/// Whether a value outside a pod spec's `image` is an image reference: a one-line string
/// that parses as one and is not a URL, a path or a template.
pub(crate) fn is_image_string(node: &Node) -> bool {
    let Some(value) = node.as_str() else {
        return false;
    };
    let value = value.trim();
    !value.is_empty()
        && !value.starts_with(['/', '.', '-'])
        && !value.contains("://")
        && !value.contains(char::is_whitespace)
        && !value.contains(['{', '}', '$'])
        && ImageRef::parse(value).is_ok()
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
