//! Helm chart values (`values*.yaml` beside `Chart.yaml`): image maps
//! (`image: {registry, repository, tag, digest}`, also under keys such as `initImage:` or
//! `sidecarImage:`) at any depth, and `image: repo:tag` strings. An image map's empty or
//! missing `tag` is the chart's `appVersion`, as chart templates commonly write
//! `{{ .Values.image.tag | default .Chart.AppVersion }}`. A map is reported at its `tag`
//! (at `repository` when the tag comes from `appVersion`); `pin` writes its `digest`.

use std::rc::Rc;

use super::tree::Node;
use super::{Flavor, Sink, Want};
use crate::Context;

/// How deep values are walked.
const MAX_DEPTH: usize = 64;

/// Reads the images of one values document.
pub(crate) fn extract(doc: &Rc<Node>, app_version: Option<&str>, sink: &mut Sink<'_>) {
    walk(doc, "", app_version, sink, 0);
}

fn walk(node: &Rc<Node>, path: &str, app_version: Option<&str>, sink: &mut Sink<'_>, depth: usize) {
    if depth >= MAX_DEPTH || !sink.first_visit(node) {
        return;
    }
    if node.is_map() {
        for (key, value) in node.entries() {
            let here = if path.is_empty() {
                key.to_owned()
            } else {
                format!("{path}.{key}")
            };
            let image_key = key == "image" || key.ends_with("Image");
            if image_key
                && value
                    .get("repository")
                    .is_some_and(|r| r.as_str().is_some())
            {
                image_map(value, &here, app_version, sink);
            } else if key == "image" && super::kubernetes::is_image_string(value) {
                sink.image(
                    value,
                    &here,
                    Want::new(Context::HelmValues, Flavor::Kubernetes),
                );
            } else {
                walk(value, &here, app_version, sink, depth + 1);
            }
        }
    } else {
        for (i, item) in node.items().iter().enumerate() {
            walk(item, &format!("{path}[{i}]"), app_version, sink, depth + 1);
        }
    }
}

/// One `{registry, repository, tag, digest}` map.
fn image_map(map: &Rc<Node>, path: &str, app_version: Option<&str>, sink: &mut Sink<'_>) {
    let text = |key: &str| {
        map.get(key)
            .and_then(|n| n.scalar())
            .filter(|s| !s.is_null() && !s.value.is_empty())
            .map(|s| s.value.as_str())
    };
    let Some(repository) = map.get("repository") else {
        return;
    };
    let mut image = match text("registry") {
        Some(registry) => format!(
            "{}/{}",
            registry.trim_end_matches('/'),
            text("repository").unwrap_or_default()
        ),
        None => text("repository").unwrap_or_default().to_owned(),
    };
    let tag = text("tag");
    if let Some(tag) = tag.or(app_version) {
        image = format!("{image}:{tag}");
    }
    if let Some(digest) = text("digest") {
        image = format!("{image}@{digest}");
    }
    let (at, key) = match (tag, map.get("tag")) {
        (Some(_), Some(node)) => (node, "tag"),
        _ => (repository, "repository"),
    };
    let literal = super::digest::literal(sink.text, map);
    sink.composed(
        at,
        &format!("{path}.{key}"),
        &image,
        literal,
        Context::HelmValues,
    );
}
