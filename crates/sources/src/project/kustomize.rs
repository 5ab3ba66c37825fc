//! Kustomizations: the `images:` overrides each one applies to its resources. kustomize
//! builds a kustomization's resources (files, or directories holding another
//! kustomization) and then applies its `images:` entries, so an image in a resource file is
//! changed by every kustomization on the way from a top-level one down to the file, inner
//! first. One file reached through several top-level kustomizations deploys one image per
//! way.

use std::collections::{BTreeMap, BTreeSet};

use crate::yaml::tree::{self, Node};
use crate::{SourceFile, SourceKind};

/// How deep kustomizations may include each other; deeper (or circular) inclusions stop.
const MAX_DEPTH: usize = 32;

/// One `images:` entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ImageOverride {
    pub(crate) name: String,
    pub(crate) new_name: Option<String>,
    pub(crate) new_tag: Option<String>,
    pub(crate) digest: Option<String>,
}

/// The `images:` lists applied to a resource file on one way down, inner first.
pub(crate) type Chain = Vec<Vec<ImageOverride>>;

/// What the kustomizations of a tree do to their resource files.
#[derive(Debug, Clone, Default)]
pub(crate) struct Kustomize {
    /// Per resource file (`rel`), every distinct chain that reaches it.
    chains: BTreeMap<String, Vec<Chain>>,
}

#[derive(Debug, Default)]
struct Kustomization {
    images: Vec<ImageOverride>,
    /// Resources, components and bases, as `rel` paths (those leaving the tree left out).
    resources: Vec<String>,
}

impl Kustomize {
    /// Reads the kustomizations among `files`. One that cannot be read or parsed changes
    /// nothing; its own parse reports why.
    pub(crate) fn read(files: &[SourceFile]) -> Self {
        let mut by_dir: BTreeMap<String, Kustomization> = BTreeMap::new();
        for file in files.iter().filter(|f| f.kind == SourceKind::Kustomization) {
            let dir = super::dir_of(&file.rel).to_owned();
            let Ok(text) = std::fs::read_to_string(&file.path) else {
                continue;
            };
            let Ok(docs) = tree::parse_documents(text.strip_prefix('\u{feff}').unwrap_or(&text))
            else {
                continue;
            };
            let Some(doc) = docs.first() else { continue };
            let resources = ["resources", "components", "bases"]
                .iter()
                .filter_map(|key| doc.get(key))
                .flat_map(|list| list.items().iter())
                .filter_map(|item| item.as_str())
                .filter_map(|r| super::join_rel(&dir, r))
                .collect();
            by_dir.insert(
                dir,
                Kustomization {
                    images: overrides(doc),
                    resources,
                },
            );
        }
        let included: BTreeSet<&String> = by_dir
            .values()
            .flat_map(|k| &k.resources)
            .filter(|r| by_dir.contains_key(*r))
            .collect();
        let mut chains: BTreeMap<String, Vec<Chain>> = BTreeMap::new();
        for dir in by_dir.keys().filter(|d| !included.contains(d)) {
            walk(&by_dir, dir, &mut Vec::new(), &mut chains);
        }
        for list in chains.values_mut() {
            list.sort();
            list.dedup();
        }
        Self { chains }
    }

    /// The chains that reach the file `rel`; empty when no kustomization includes it.
    pub(crate) fn chains_of(&self, rel: &str) -> &[Chain] {
        self.chains.get(rel).map_or(&[], Vec::as_slice)
    }
}

/// Walks down from the kustomization in `dir`, `outer` holding the `images:` lists of the
/// kustomizations above it (outermost first).
fn walk<'k>(
    by_dir: &'k BTreeMap<String, Kustomization>,
    dir: &str,
    outer: &mut Vec<&'k [ImageOverride]>,
    chains: &mut BTreeMap<String, Vec<Chain>>,
) {
    let Some(kustomization) = by_dir.get(dir) else {
        return;
    };
    if outer.len() >= MAX_DEPTH {
        return;
    }
    outer.push(&kustomization.images);
    for resource in &kustomization.resources {
        if by_dir.contains_key(resource) {
            walk(by_dir, resource, outer, chains);
        } else {
            let chain: Chain = outer.iter().rev().map(|list| list.to_vec()).collect();
            chains.entry(resource.clone()).or_default().push(chain);
        }
    }
    outer.pop();
}

/// The `images:` entries of a kustomization document that name an image.
pub(crate) fn overrides(doc: &Node) -> Vec<ImageOverride> {
    let Some(images) = doc.get("images") else {
        return Vec::new();
    };
    let text = |entry: &Node, key: &str| {
        entry
            .get(key)
            .and_then(|n| n.scalar())
            .filter(|s| !s.is_null() && !s.value.is_empty())
            .map(|s| s.value.clone())
    };
    images
        .items()
        .iter()
        .filter_map(|entry| {
            Some(ImageOverride {
                name: entry.get("name")?.as_str()?.to_owned(),
                new_name: text(entry, "newName"),
                new_tag: text(entry, "newTag"),
                digest: text(entry, "digest"),
            })
        })
        .collect()
}

impl ImageOverride {
    /// Applies this entry to `image` (as written: `name[:tag][@digest]`) when it names that
    /// image, as kustomize does: `newName` replaces the name, `newTag` the tag (dropping a
    /// digest), `digest` the digest (dropping the tag unless `newTag` sets one).
    pub(crate) fn apply(&self, image: &str) -> Option<String> {
        let (name, tag, digest) = split(image);
        if name != self.name {
            return None;
        }
        let name = self.new_name.as_deref().unwrap_or(name);
        let (tag, digest) = match (&self.new_tag, &self.digest) {
            (Some(t), Some(d)) => (Some(t.as_str()), Some(d.as_str())),
            (Some(t), None) => (Some(t.as_str()), None),
            (None, Some(d)) => (None, Some(d.as_str())),
            (None, None) => (tag, digest),
        };
        let mut out = name.to_owned();
        if let Some(tag) = tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = digest {
            out.push('@');
            out.push_str(digest);
        }
        Some(out)
    }
}

/// Applies a chain to `image`: each kustomization's first matching entry, inner first.
pub(crate) fn apply_chain(chain: &Chain, image: &str) -> String {
    let mut current = image.to_owned();
    for list in chain {
        if let Some(new) = list.iter().find_map(|o| o.apply(&current)) {
            current = new;
        }
    }
    current
}

/// `name`, tag and digest of a reference as written.
fn split(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match image.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (image, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..]), digest),
        None => (rest, None, digest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        name: &str,
        new_name: Option<&str>,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> ImageOverride {
        ImageOverride {
            name: name.into(),
            new_name: new_name.map(Into::into),
            new_tag: tag.map(Into::into),
            digest: digest.map(Into::into),
        }
    }

    #[test]
    fn entries_replace_name_tag_and_digest_as_kustomize_does() {
        let d = "sha256:abc";
        let cases = [
            (
                entry("nginx", None, Some("1.27"), None),
                "nginx:1.25",
                "nginx:1.27",
            ),
            (
                entry("nginx", Some("ghcr.io/o/nginx"), None, None),
                "nginx:1.25",
                "ghcr.io/o/nginx:1.25",
            ),
            (
                entry("nginx", None, None, Some(d)),
                "nginx:1.25",
                "nginx@sha256:abc",
            ),
            (
                entry("nginx", None, Some("1.27"), Some(d)),
                "nginx@sha256:old",
                "nginx:1.27@sha256:abc",
            ),
            (
                entry("localhost:5000/app", None, Some("2"), None),
                "localhost:5000/app",
                "localhost:5000/app:2",
            ),
        ];
        for (entry, image, want) in cases {
            assert_eq!(entry.apply(image).as_deref(), Some(want), "{image}");
        }
        // Names match exactly: `nginx` does not name `docker.io/library/nginx` or `nginx-x`.
        let e = entry("nginx", None, Some("1"), None);
        assert_eq!(e.apply("docker.io/library/nginx:1.25"), None);
        assert_eq!(e.apply("nginx-x:1.25"), None);
    }

    #[test]
    fn a_chain_applies_inner_entries_first() {
        let chain: Chain = vec![
            vec![entry("app", Some("registry.example/app"), None, None)],
            vec![entry("registry.example/app", None, Some("prod"), None)],
        ];
        assert_eq!(apply_chain(&chain, "app:dev"), "registry.example/app:prod");
    }

    #[test]
    fn resource_files_get_every_chain_from_a_top_level_kustomization() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            SourceFile {
                path,
                rel: rel.into(),
                kind: if rel.ends_with("kustomization.yaml") {
                    SourceKind::Kustomization
                } else {
                    SourceKind::Kubernetes
                },
            }
        };
        let files = [
            write("base/kustomization.yaml", "resources: [deploy.yaml]\n"),
            write("base/deploy.yaml", "kind: Deployment\n"),
            write(
                "overlays/a/kustomization.yaml",
                "resources: [../../base]\nimages:\n- name: app\n  newTag: a\n",
            ),
            write(
                "overlays/b/kustomization.yaml",
                "resources:\n- ../../base\nimages:\n- name: app\n  newTag: b\n",
            ),
        ];
        let k = Kustomize::read(&files);
        let chains = k.chains_of("base/deploy.yaml");
        let mut images: Vec<String> = chains.iter().map(|c| apply_chain(c, "app:1")).collect();
        images.sort();
        assert_eq!(images, ["app:a", "app:b"]);
        assert!(k.chains_of("other.yaml").is_empty());
    }
}
