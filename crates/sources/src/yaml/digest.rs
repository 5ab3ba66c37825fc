//! Where `pin` writes a digest that is its own mapping key (a kustomization's `images:`
//! entry, a Helm values image map): over the `digest` value when there is one, else a new
//! `digest:` line inserted after the mapping's last line at its indentation.

use super::tree::{Kind, Node};
use crate::{Literal, LiteralForm};

/// The literal for the `digest` of the block mapping `map`, or `None` when `pin` cannot
/// write one in place (a flow mapping `{...}`, a block scalar, odd indentation).
pub(crate) fn literal(text: &str, map: &Node) -> Option<Literal> {
    let Kind::Map(entries) = &map.kind else {
        return None;
    };
    let digest = |span: std::ops::Range<usize>, before: &str, after: &str| {
        Some(Literal {
            text: text.get(span.clone())?.to_owned(),
            span,
            form: LiteralForm::Digest {
                before: before.to_owned(),
                after: after.to_owned(),
            },
        })
    };
    if let Some((key, value)) = entries
        .iter()
        .rev()
        .find(|(k, _)| k.scalar().is_some_and(|s| s.value == "digest"))
    {
        let scalar = value.scalar()?;
        if scalar.is_string() {
            return digest(scalar.exact.clone()?, "", "");
        }
        if !scalar.is_null() {
            return None;
        }
        if !scalar.value.is_empty() {
            // `digest: ~` or `digest: null`.
            return digest(scalar.source.clone(), "", "");
        }
        // `digest:` with nothing after it: write after the colon.
        let after_key = key.scalar()?.source.end;
        let rest = text.get(after_key..)?;
        let colon = after_key + rest.find(':')?;
        text.get(after_key..colon)?
            .trim()
            .is_empty()
            .then_some(())?;
        return digest(colon + 1..colon + 1, " ", "");
    }
    let (first, _) = entries.first()?;
    let key_start = first.scalar()?.source.start;
    if text.get(map.span.start..)?.starts_with('{') {
        return None;
    }
    let line_start = text.get(..key_start)?.rfind('\n').map_or(0, |i| i + 1);
    let prefix = text.get(line_start..key_start)?;
    if !prefix.chars().all(|c| c == ' ' || c == '-') {
        return None;
    }
    let indent = " ".repeat(prefix.len());
    let end = last_end(map);
    match text.get(end..)?.find('\n') {
        Some(i) => digest(end + i + 1..end + i + 1, &format!("{indent}digest: "), "\n"),
        None => digest(text.len()..text.len(), &format!("\n{indent}digest: "), ""),
    }
}

/// The end of the last text a node holds (its last scalar's own text).
fn last_end(node: &Node) -> usize {
    match &node.kind {
        Kind::Scalar(s) if s.value.is_empty() && s.is_null() => 0,
        Kind::Scalar(s) => s.source.end,
        Kind::Seq(items) => items.iter().map(|n| last_end(n)).max().unwrap_or(0),
        Kind::Map(entries) => entries
            .iter()
            .map(|(k, v)| last_end(k).max(last_end(v)))
            .max()
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::tree::parse_documents;

    /// The text after writing `D` through the literal of the mapping at `path`.
    fn pinned(text: &str, path: &[&str]) -> Option<String> {
        let docs = parse_documents(text).unwrap();
        let mut node = &docs[0];
        for key in path {
            node = match key.parse::<usize>() {
                Ok(i) => &node.items()[i],
                Err(_) => node.get(key).unwrap(),
            };
        }
        let literal = literal(text, node)?;
        assert_eq!(&text[literal.span.clone()], literal.text);
        let LiteralForm::Digest { before, after } = &literal.form else {
            panic!("{literal:?}")
        };
        let mut out = text.to_owned();
        out.replace_range(literal.span, &format!("{before}D{after}"));
        Some(out)
    }

    #[test]
    fn inserts_a_line_at_the_entry_indentation() {
        let text = "images:\n- name: nginx\n  newTag: \"1.27\" # pinned below\nother: 1\n";
        assert_eq!(
            pinned(text, &["images", "0"]).unwrap(),
            "images:\n- name: nginx\n  newTag: \"1.27\" # pinned below\n  digest: D\nother: 1\n"
        );
        let text = "image:\n    repository: nginx\n    tag: 1.27";
        assert_eq!(
            pinned(text, &["image"]).unwrap(),
            "image:\n    repository: nginx\n    tag: 1.27\n    digest: D"
        );
    }

    #[test]
    fn replaces_an_existing_or_empty_digest_value() {
        let cases = [
            (
                "image:\n  repository: x\n  digest: \"\"\n",
                "image:\n  repository: x\n  digest: \"D\"\n",
            ),
            (
                "image:\n  digest: ''\n  repository: x\n",
                "image:\n  digest: 'D'\n  repository: x\n",
            ),
            (
                "image:\n  repository: x\n  digest:\n",
                "image:\n  repository: x\n  digest: D\n",
            ),
            (
                "image:\n  repository: x\n  digest: ~\n",
                "image:\n  repository: x\n  digest: D\n",
            ),
            (
                "image:\n  digest: sha256:old # c\n",
                "image:\n  digest: D # c\n",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(pinned(text, &["image"]).as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn flow_mappings_are_not_written() {
        assert_eq!(pinned("image: {repository: x, tag: y}\n", &["image"]), None);
    }
}
