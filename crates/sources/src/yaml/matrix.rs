//! GitHub Actions job matrices: the combinations a job's `strategy.matrix` produces, as
//! GitHub computes them, and `${{ matrix.… }}` in an image value expanded per combination.
//!
//! The combinations are the product of the list-valued keys (in the order written), less
//! every combination an `exclude:` entry matches (all of its keys, partially), then each
//! `include:` entry is added to every product combination whose original values it does
//! not contradict (it may overwrite values earlier includes added), or becomes a
//! combination of its own when it fits none. A matrix, a key's list, `include` or `exclude`
//! written as an expression (`${{ fromJSON(…) }}`) cannot be computed here: the image then
//! stays an unresolved reference.

use std::rc::Rc;

use super::tree::{Kind, Node};

/// One combination: each matrix key with its value's node.
pub(crate) type Combination<'n> = Vec<(&'n str, &'n Rc<Node>)>;

/// One expanded image value.
#[derive(Debug)]
pub(crate) struct Expanded<'n> {
    /// The matrix value the occurrence is reported at (the first one the value uses).
    pub(crate) at: &'n Rc<Node>,
    pub(crate) value: String,
    /// The image value is that matrix value alone, so `pin` may edit it there.
    pub(crate) whole: bool,
}

/// The combinations of `job`'s matrix; `None` when it has none or it is an expression.
pub(crate) fn combinations(job: &Node) -> Option<Vec<Combination<'_>>> {
    let matrix = job.at(&["strategy", "matrix"])?;
    if !matrix.is_map() {
        return None;
    }
    let mut keys = Vec::new();
    for (key, values) in matrix.entries() {
        if matches!(key, "include" | "exclude") {
            continue;
        }
        match &values.kind {
            Kind::Seq(items) => keys.push((key, items)),
            _ => return None,
        }
    }
    let mut combos: Vec<Combination<'_>> = Vec::new();
    if !keys.is_empty() {
        combos.push(Vec::new());
        for (key, values) in &keys {
            combos = combos
                .iter()
                .flat_map(|c| {
                    values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((*key, v));
                        c
                    })
                })
                .collect();
        }
    }
    if let Some(exclude) = matrix.get("exclude") {
        for entry in entries_of(exclude)? {
            combos.retain(|c| {
                !entry
                    .entries()
                    .into_iter()
                    .all(|(k, v)| value(c, k).is_some_and(|cv| same(cv, v)))
            });
        }
    }
    if let Some(include) = matrix.get("include") {
        let original = combos.len();
        let is_original = |k: &str| keys.iter().any(|(key, _)| *key == k);
        for entry in entries_of(include)? {
            let pairs = entry.entries();
            let mut added = false;
            for combo in &mut combos[..original] {
                let fits = pairs
                    .iter()
                    .all(|(k, v)| !is_original(k) || value(combo, k).is_some_and(|cv| same(cv, v)));
                if !fits {
                    continue;
                }
                added = true;
                for (k, v) in pairs.iter().filter(|(k, _)| !is_original(k)) {
                    match combo.iter_mut().find(|(key, _)| key == k) {
                        Some(slot) => slot.1 = v,
                        None => combo.push((k, v)),
                    }
                }
            }
            if !added {
                combos.push(pairs);
            }
        }
    }
    Some(combos)
}

/// The mappings of an `include:`/`exclude:` list; `None` when it is an expression.
fn entries_of(list: &Node) -> Option<&[Rc<Node>]> {
    match &list.kind {
        Kind::Seq(items) if items.iter().all(|i| i.is_map()) => Some(items),
        _ => None,
    }
}

fn value<'n>(combo: &Combination<'n>, key: &str) -> Option<&'n Rc<Node>> {
    combo.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Whether two matrix values are equal (scalars by value, collections item by item).
fn same(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (Kind::Scalar(x), Kind::Scalar(y)) => x.value == y.value,
        (Kind::Seq(x), Kind::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Kind::Map(_), Kind::Map(_)) => {
            let (x, y) = (a.entries(), b.entries());
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, v2)| k == k2 && same(v, v2)))
        }
        _ => false,
    }
}

/// `value` expanded for every combination, each distinct result once; `None` when the value
/// uses no `${{ matrix.… }}`, uses another expression, or names a matrix value that is not
/// text.
pub(crate) fn expand<'n>(value: &str, combos: &[Combination<'n>]) -> Option<Vec<Expanded<'n>>> {
    // Literal text and matrix paths, in order.
    let mut parts: Vec<Result<&str, Vec<&str>>> = Vec::new();
    let mut rest = value;
    while let Some(i) = rest.find("${{") {
        let end = rest[i..].find("}}")? + i;
        parts.push(Ok(&rest[..i]));
        let inner = rest[i + 3..end].trim();
        let path: Vec<&str> = inner.strip_prefix("matrix.")?.split('.').collect();
        let name = |s: &&str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !path.iter().all(name) {
            return None;
        }
        parts.push(Err(path));
        rest = &rest[end + 2..];
    }
    parts.push(Ok(rest));
    let placeholders = parts.iter().filter(|p| p.is_err()).count();
    if placeholders == 0 {
        return None;
    }
    let whole = placeholders == 1 && parts.iter().all(|p| p.is_err() || p == &Ok(""));
    let mut out: Vec<Expanded<'n>> = Vec::new();
    'combos: for combo in combos {
        let mut text = String::new();
        let mut at = None;
        for part in &parts {
            match part {
                Ok(literal) => text.push_str(literal),
                Err(path) => {
                    let Some(node) = lookup(combo, path) else {
                        // GitHub reads a property the combination lacks as '': no
                        // container at all, or a name that cannot run. Nothing to check.
                        continue 'combos;
                    };
                    text.push_str(&node.scalar()?.value);
                    at = at.or(Some(node));
                }
            }
        }
        let Some(at) = at else { continue };
        if !out.iter().any(|e| e.value == text && Rc::ptr_eq(e.at, at)) {
            out.push(Expanded {
                at,
                value: text,
                whole,
            });
        }
    }
    Some(out)
}

/// The node at `path` in a combination; keys match case-insensitively, as in GitHub
/// expressions.
fn lookup<'n>(combo: &Combination<'n>, path: &[&str]) -> Option<&'n Rc<Node>> {
    let (first, rest) = path.split_first()?;
    let mut node = combo
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(first))
        .map(|(_, v)| *v)?;
    for key in rest {
        node = node
            .entries()
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)?;
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::super::tree::parse_documents;
    use super::*;

    fn computed(matrix: &str) -> Option<Vec<String>> {
        let text = format!("strategy:\n  matrix: {matrix}\n");
        let job = parse_documents(&text).unwrap().remove(0);
        let combos = combinations(&job)?;
        Some(
            combos
                .iter()
                .map(|c| {
                    c.iter()
                        .map(|(k, v)| {
                            let v = v.scalar().map_or("{…}".to_owned(), |s| s.value.clone());
                            format!("{k}={v}")
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect(),
        )
    }

    #[test]
    fn product_exclude_and_include_as_github_computes_them() {
        // GitHub's documented example of `include`.
        let matrix = "{fruit: [apple, pear], animal: [cat, dog], include: [{color: green}, {color: pink, animal: cat}, {fruit: apple, shape: circle}, {fruit: banana}, {fruit: banana, animal: cat}]}";
        assert_eq!(
            computed(matrix).unwrap(),
            [
                "fruit=apple,animal=cat,color=pink,shape=circle",
                "fruit=apple,animal=dog,color=green,shape=circle",
                "fruit=pear,animal=cat,color=pink",
                "fruit=pear,animal=dog,color=green",
                "fruit=banana",
                "fruit=banana,animal=cat",
            ]
        );
        let matrix = "{os: [a, b], node: [18, 20], exclude: [{os: b, node: 18}, {os: a}]}";
        assert_eq!(computed(matrix).unwrap(), ["os=b,node=20"]);
        assert_eq!(
            computed("{include: [{image: x}, {image: y}]}").unwrap(),
            ["image=x", "image=y"]
        );
    }

    #[test]
    fn expressions_cannot_be_computed() {
        assert_eq!(computed("${{ fromJSON(needs.a.outputs.m) }}"), None);
        assert_eq!(computed("{node: '${{ fromJSON(x) }}'}"), None);
        assert_eq!(computed("{node: [1], include: '${{ fromJSON(x) }}'}"), None);
    }

    #[test]
    fn values_expand_per_combination_and_other_expressions_do_not() {
        let text = "strategy:\n  matrix:\n    node: [18, 20]\n    os: [a, b]\n    include:\n      - node: 20\n        img: {name: redis, tag: '7'}\n";
        let job = parse_documents(text).unwrap().remove(0);
        let combos = combinations(&job).unwrap();
        let values = |v: &str| {
            expand(v, &combos).map(|e| {
                e.into_iter()
                    .map(|e| format!("{}{}", e.value, if e.whole { " whole" } else { "" }))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            values("node:${{ matrix.node }}-alpine").unwrap(),
            ["node:18-alpine", "node:20-alpine"]
        );
        assert_eq!(
            values("${{matrix.NODE}}").unwrap(),
            ["18 whole", "20 whole"]
        );
        assert_eq!(
            values("${{ matrix.img.name }}:${{ matrix.img.tag }}").unwrap(),
            ["redis:7"]
        );
        assert_eq!(values("node:${{ env.TAG }}"), None);
        assert_eq!(values("node:${{ matrix.node }}-${{ github.sha }}"), None);
        assert_eq!(values("${{ matrix.img }}"), None);
        assert_eq!(values("node:20"), None);
    }
}
