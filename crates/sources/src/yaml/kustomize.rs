//! Kustomizations: an `images:` entry with a `newTag` or a `digest` decides the image its
//! resources deploy, so that image is reported at the entry (at `newTag`, else `newName`,
//! else `name`) and `pin` writes the entry's `digest:`. An entry that only renames
//! (`newName` alone) leaves the tag to each resource, so it is reported where the image is
//! written. In the resource files, an image an entry overrides is reported as the image
//! kustomize deploys, without a literal: `pin` writes the kustomization, not the resource.

use std::rc::Rc;

use super::tree::Node;
use super::Sink;
use crate::project::kustomize::{apply_chain, Chain};
use crate::{Context, ImageRef, LiteralForm, Occurrence, Resolution};

/// Reads the `images:` entries of a kustomization.
pub(crate) fn extract(doc: &Rc<Node>, sink: &mut Sink<'_>) {
    let Some(images) = doc.get("images") else {
        return;
    };
    for (i, entry) in images.items().iter().enumerate() {
        let field = |key: &str| entry.get(key).filter(|n| !n.is_null());
        let (name, new_name, new_tag, digest) = (
            field("name"),
            field("newName"),
            field("newTag"),
            field("digest"),
        );
        if new_tag.is_none() && digest.is_none() {
            continue;
        }
        let path = format!("images[{i}]");
        let mut parts = Vec::new();
        for (key, node) in [
            ("name", name),
            ("newName", new_name),
            ("newTag", new_tag),
            ("digest", digest),
        ] {
            let value = match node.map(|n| n.scalar()) {
                None => None,
                Some(Some(s)) if key == "newTag" || s.is_string() => Some(s.value.as_str()),
                Some(_) => {
                    let at = node.map_or(entry.span.start, |n| n.span.start);
                    return sink.bad_reference(at, format!("`{path}.{key}` must be a string"));
                }
            };
            parts.push(value);
        }
        let [Some(name_text), new_name_text, tag, digest] = parts[..] else {
            sink.bad_reference(
                entry.span.start,
                format!("`{path}` sets `newTag` or `digest` but has no `name`"),
            );
            continue;
        };
        let mut image = new_name_text.unwrap_or(name_text).to_owned();
        if let Some(tag) = tag {
            image = format!("{image}:{tag}");
        }
        if let Some(digest) = digest {
            image = format!("{image}@{digest}");
        }
        let (at, key) = match (new_tag, new_name) {
            (Some(n), _) => (n, "newTag"),
            (None, Some(n)) => (n, "newName"),
            (None, None) => (name.unwrap_or(entry), "name"),
        };
        let literal = super::digest::literal(sink.text, entry);
        sink.composed(
            at,
            &format!("{path}.{key}"),
            &image,
            literal,
            Context::KustomizeImage,
        );
    }
}

/// Replaces the images that kustomizations override in a resource file by the images
/// they deploy (one occurrence per distinct image, without a literal); an image some way
/// to the file leaves unchanged keeps its own occurrence.
pub(crate) fn apply_overrides(occurrences: Vec<Occurrence>, chains: &[Chain]) -> Vec<Occurrence> {
    if chains.is_empty() {
        return occurrences;
    }
    let mut out = Vec::with_capacity(occurrences.len());
    for occurrence in occurrences {
        let written = match (&occurrence.resolution, &occurrence.literal) {
            (Resolution::Image(_), Some(l)) if l.form == LiteralForm::Reference => l.text.clone(),
            _ => {
                out.push(occurrence);
                continue;
            }
        };
        let mut effective: Vec<String> = chains.iter().map(|c| apply_chain(c, &written)).collect();
        effective.sort();
        effective.dedup();
        for image in effective {
            if image == written {
                out.push(occurrence.clone());
                continue;
            }
            // An override that does not make a reference is kustomize's error, reported at
            // the kustomization; here the written image stays.
            let Ok(parsed) = ImageRef::parse(&image) else {
                out.push(occurrence.clone());
                continue;
            };
            out.push(Occurrence {
                resolution: Resolution::Image(parsed),
                literal: None,
                ..occurrence.clone()
            });
        }
    }
    out.dedup();
    out
}
