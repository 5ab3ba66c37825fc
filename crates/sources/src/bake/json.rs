//! `docker-bake.json`: the same structure as HCL (`{"target": {"app": {…}}, "variable":
//! {"TAG": {"default": "1"}}}`), read with the YAML reader so every string keeps its span.

use crate::yaml::tree::{parse_documents, Kind, Node};

use super::{Block, Body, Expr};

/// Parses a bake JSON file into the body an HCL file gives.
pub(crate) fn parse(text: &str) -> Result<Body, (usize, String)> {
    let docs = parse_documents(text).map_err(|e| (e.offset, e.message))?;
    let mut body = Body::default();
    let Some(doc) = docs.first() else {
        return Ok(body);
    };
    if !doc.is_map() {
        return Err((doc.span.start, "expected a JSON object".to_owned()));
    }
    for (kind, blocks) in doc.entries() {
        match kind {
            "target" | "group" | "variable" | "function" => {
                for (label, block) in blocks.entries() {
                    let Expr::Object(attrs) = expr(block) else {
                        return Err((
                            block.span.start,
                            format!("`{kind}.{label}` must be an object"),
                        ));
                    };
                    body.blocks.push(Block {
                        kind: kind.to_owned(),
                        labels: vec![label.to_owned()],
                        body: Body {
                            attrs,
                            blocks: Vec::new(),
                        },
                        offset: block.span.start,
                    });
                }
            }
            _ => body.attrs.push((kind.to_owned(), expr(blocks))),
        }
    }
    Ok(body)
}

fn expr(node: &Node) -> Expr {
    match &node.kind {
        Kind::Scalar(s) if s.is_string() => Expr::Str {
            value: s.value.clone(),
            span: s.exact.clone().unwrap_or_else(|| s.source.clone()),
            exact: s.exact.is_some(),
        },
        Kind::Scalar(s) if s.is_null() => Expr::Other(None),
        Kind::Scalar(s) => Expr::Other(Some(s.value.clone())),
        Kind::Seq(items) => Expr::List(items.iter().map(|n| expr(n)).collect()),
        Kind::Map(_) => Expr::Object(
            node.entries()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), expr(v)))
                .collect(),
        ),
    }
}
