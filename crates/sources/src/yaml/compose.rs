//! Compose files: `services.<name>.image`, with `services.<name>.platform` attached, and
//! the `build:` sections (`context`, `dockerfile`, `args`, `additional_contexts`) that say
//! how a service's Dockerfile is built.
//!
//! Compose interpolates `${VAR}` from the environment and the `.env` file beside the
//! compose file; portcullis reads only the `.env`, so other variables are unset, defaults
//! apply (`${TAG:-1.27}` → `1.27`) and variables without one leave the reference unresolved.

use std::collections::BTreeMap;
use std::rc::Rc;

use super::interpolate::{self, Env, Resolved};
use super::tree::Node;
use super::{Flavor, Sink, Want};
use crate::project::{dockerfile_of, named_context, BuildDefinition, NamedContext};
use crate::{Context, SourceFile};

/// The scheme of a build context that names an image.
const IMAGE_SCHEME: &str = "docker-image://";

/// Reads the services of one compose document.
pub(crate) fn extract(doc: &Rc<Node>, sink: &mut Sink<'_>, env: &Env) {
    let Some(services) = doc.get("services") else {
        return;
    };
    for (name, service) in services.entries() {
        let platform = service
            .get("platform")
            .and_then(|p| p.as_str())
            .map(str::to_owned);
        if let Some(image) = service.get("image") {
            let mut want = Want::new(Context::ComposeImage, Flavor::Compose(env));
            want.platform.clone_from(&platform);
            sink.image(image, &format!("services.{name}.image"), want);
        }
        let Some(contexts) = service.at(&["build", "additional_contexts"]) else {
            continue;
        };
        for (context, node, prefix) in additional_contexts(contexts) {
            let Some(value) = node.as_str() else { continue };
            if value
                .get(prefix..)
                .is_some_and(|v| v.starts_with(IMAGE_SCHEME))
            {
                let mut want = Want::new(Context::BuildContext, Flavor::Compose(env));
                want.prefix = prefix + IMAGE_SCHEME.len();
                want.platform.clone_from(&platform);
                let path = format!("services.{name}.build.additional_contexts.{context}");
                sink.image(node, &path, want);
            }
        }
    }
}

/// The entries of `additional_contexts` (a map, or a list of `name=value`): the name, the
/// node holding the value and where the value starts in the node's text.
fn additional_contexts(node: &Node) -> Vec<(String, &Rc<Node>, usize)> {
    if node.is_map() {
        return node
            .entries()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value, 0))
            .collect();
    }
    node.items()
        .iter()
        .filter_map(|item| {
            let (name, _) = item.as_str()?.split_once('=')?;
            Some((name.to_owned(), item, name.len() + 1))
        })
        .collect()
}

/// The build definitions of a compose file: for each service with a `build:`, the
/// Dockerfile it builds (a `rel` path) with its args and named contexts.
pub(crate) fn builds(file: &SourceFile, env: &Env) -> Vec<(String, BuildDefinition)> {
    let Some(text) = crate::bake::read_small(file) else {
        return Vec::new();
    };
    let Ok(docs) = super::tree::parse_documents(&text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for doc in &docs {
        let Some(services) = doc.get("services") else {
            continue;
        };
        for (name, service) in services.entries() {
            let Some(build) = service.get("build") else {
                continue;
            };
            let text_of = |node: &Node| match interpolate::compose(node.as_str()?, None, env) {
                Ok(Resolved::Text { value, .. }) => Some(value),
                _ => None,
            };
            let (context, dockerfile) = if build.is_map() {
                if build.get("dockerfile_inline").is_some() {
                    continue;
                }
                let context = build.get("context").and_then(|n| text_of(n));
                let dockerfile = build.get("dockerfile").and_then(|n| text_of(n));
                (context, dockerfile)
            } else {
                (text_of(build), None)
            };
            let context = context.unwrap_or_else(|| ".".to_owned());
            let dockerfile = dockerfile.unwrap_or_else(|| "Dockerfile".to_owned());
            let Some(path) = dockerfile_of(&file.rel, &context, &dockerfile) else {
                continue;
            };
            let mut definition = BuildDefinition {
                origin: format!("`{}` service `{name}`", file.rel),
                ..BuildDefinition::default()
            };
            if let Some(args) = build.get("args") {
                definition.args = build_args(args, env);
            }
            if let Some(contexts) = build.get("additional_contexts") {
                for (context, node, prefix) in additional_contexts(contexts) {
                    let Some(value) = node.as_str().and_then(|v| v.get(prefix..)) else {
                        continue;
                    };
                    let named = match interpolate::compose(value, None, env) {
                        Ok(Resolved::Text { value, .. }) => named_context(&value),
                        Ok(Resolved::Unresolved(variable)) => NamedContext::Unresolved(variable),
                        Err(_) => continue,
                    };
                    definition.contexts.insert(context, named);
                }
            }
            out.push((path, definition));
        }
    }
    out
}

/// `args` as a map (`KEY: value`) or a list (`KEY=value`); an arg without a value (taken
/// from the environment) or with an unresolved one is left out.
fn build_args(node: &Node, env: &Env) -> BTreeMap<String, String> {
    // `KEY` without a value (`- KEY` in the list form, `KEY:` in the map form) takes its
    // value from the project's environment, which for portcullis is the `.env` beside the
    // compose file (the machine's environment is never read); without one it is not set.
    let from_env = |k: &str| env.get(k).map(|v| (k.to_owned(), v.clone()));
    let pairs: Vec<(String, String)> = if node.is_map() {
        node.entries()
            .into_iter()
            .filter_map(|(k, v)| match v.scalar().filter(|_| !v.is_null()) {
                Some(scalar) => Some((k.to_owned(), scalar.value.clone())),
                None => from_env(k),
            })
            .collect()
    } else {
        node.items()
            .iter()
            .filter_map(|item| {
                let item = item.as_str()?;
                match item.split_once('=') {
                    Some((k, v)) => Some((k.to_owned(), v.to_owned())),
                    None => from_env(item.trim()),
                }
            })
            .collect()
    };
    pairs
        .into_iter()
        .filter_map(|(k, v)| match interpolate::compose(&v, None, env) {
            Ok(Resolved::Text { value, .. }) => Some((k, value)),
            _ => None,
        })
        .collect()
}
