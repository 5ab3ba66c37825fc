//! Variable syntaxes that can sit inside a YAML image value: compose `${VAR:-default}`,
//! GitHub `${{ expr }}`, Helm/envsubst placeholders in manifests, and GitLab `$VAR`.
//!
//! portcullis reads no environment, so every variable is unset, except GitLab variables
//! defined in the file itself. The result says either which text the reference resolves to
//! (and where its literal text sits, for `pin`), or which variable leaves it unresolved.

use std::collections::HashMap;
use std::ops::Range;

/// What an image value resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// The reference text after substitution, and the byte span (in the file) of the text
    /// `pin` must edit, when there is one.
    Text {
        value: String,
        literal: Option<Range<usize>>,
    },
    /// A variable with no value: its name (`VAR`) or the whole placeholder (`${{ x }}`).
    Unresolved(String),
}

/// A value that cannot be interpolated at all (compose refuses the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadSyntax(pub(crate) String);

fn plain(value: &str, at: Option<usize>) -> Resolved {
    Resolved::Text {
        value: value.to_owned(),
        literal: at.map(|a| a..a + value.len()),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Length of the `${ … }` starting at `s` (which begins with `${`), nested braces balanced.
fn braced_len(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 2;
                continue;
            }
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Variables compose interpolates from: the `.env` beside the compose file (never the
/// process environment).
pub(crate) type Env = std::collections::BTreeMap<String, String>;

/// Compose interpolation with the variables of `env` and every other one unset. `at` is the
/// file offset of `value` when its source text is exact.
pub(crate) fn compose(value: &str, at: Option<usize>, env: &Env) -> Result<Resolved, BadSyntax> {
    if !value.contains('$') {
        return Ok(plain(value, at));
    }
    // The whole value is `${VAR:-default}` with `VAR` unset: the default's text is what
    // `pin` edits.
    if let Some(inner) = value
        .strip_prefix("${")
        .filter(|_| braced_len(value) == Some(value.len()))
    {
        let inner = &inner[..inner.len() - 1];
        let name_len = inner.find(|c| !is_name_char(c)).unwrap_or(inner.len());
        let rest = &inner[name_len..];
        let op = if rest.starts_with(":-") {
            2
        } else {
            usize::from(rest.starts_with('-'))
        };
        let unset = !env.contains_key(&inner[..name_len]);
        if name_len > 0 && op > 0 && unset && !rest[op..].contains('$') {
            let default = &rest[op..];
            let offset = 2 + name_len + op;
            return Ok(plain(default, at.map(|a| a + offset)));
        }
    }
    Ok(match expand_compose(value, env, false)? {
        Ok(value) => Resolved::Text {
            value,
            literal: None,
        },
        Err(variable) => Resolved::Unresolved(variable),
    })
}

/// Compose interpolation where a variable `vars` does not set is empty (as in a `.env`).
pub(crate) fn interpolate_with(value: &str, vars: &Env) -> Result<String, BadSyntax> {
    Ok(expand_compose(value, vars, true)?.unwrap_or_default())
}

/// Expands `value`; the inner `Err` names the first variable left without a value (never,
/// with `unset_is_empty`).
fn expand_compose(
    value: &str,
    env: &Env,
    unset_is_empty: bool,
) -> Result<Result<String, String>, BadSyntax> {
    let mut out = String::new();
    let mut rest = value;
    // The variable to report for an unset one, unless unset means empty.
    let unset = |name: &str| (!unset_is_empty).then(|| name.to_owned());
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(r) = rest.strip_prefix("$$") {
            out.push('$');
            rest = r;
        } else if rest.starts_with("${") {
            let len =
                braced_len(rest).ok_or_else(|| BadSyntax(format!("unterminated `{rest}`")))?;
            let inner = &rest[2..len - 1];
            let name_len = inner.find(|c| !is_name_char(c)).unwrap_or(inner.len());
            let (name, op) = inner.split_at(name_len);
            if name.is_empty() {
                return Err(BadSyntax(format!(
                    "invalid interpolation `{}`",
                    &rest[..len]
                )));
            }
            let set = env.get(name);
            let colon = op.starts_with(':');
            let usable = set.filter(|v| !colon || !v.is_empty());
            if op.is_empty() || op.starts_with(":?") || op.starts_with('?') {
                match (op.is_empty(), set, usable) {
                    (true, Some(v), _) | (false, _, Some(v)) => out.push_str(v),
                    _ => {
                        if let Some(name) = unset(name) {
                            return Ok(Err(name));
                        }
                    }
                }
            } else if let Some(word) = op.strip_prefix(":-").or_else(|| op.strip_prefix('-')) {
                match usable {
                    Some(v) => out.push_str(v),
                    None => match expand_compose(word, env, unset_is_empty)? {
                        Ok(v) => out.push_str(&v),
                        Err(name) => return Ok(Err(name)),
                    },
                }
            } else if let Some(word) = op.strip_prefix(":+").or_else(|| op.strip_prefix('+')) {
                if usable.is_some() {
                    match expand_compose(word, env, unset_is_empty)? {
                        Ok(v) => out.push_str(&v),
                        Err(name) => return Ok(Err(name)),
                    }
                }
            } else {
                return Err(BadSyntax(format!(
                    "invalid interpolation `{}`",
                    &rest[..len]
                )));
            }
            rest = &rest[len..];
        } else {
            let name_len = rest[1..]
                .find(|c| !is_name_char(c))
                .unwrap_or(rest.len() - 1);
            if name_len == 0 {
                out.push('$');
                rest = &rest[1..];
            } else {
                let name = &rest[1..=name_len];
                match env.get(name) {
                    Some(v) => out.push_str(v),
                    None => {
                        if let Some(name) = unset(name) {
                            return Ok(Err(name));
                        }
                    }
                }
                rest = &rest[1 + name_len..];
            }
        }
    }
    out.push_str(rest);
    Ok(Ok(out))
}

/// GitHub Actions: any `${{ … }}` leaves the reference unresolved.
pub(crate) fn github(value: &str, at: Option<usize>) -> Resolved {
    match value.find("${{") {
        Some(i) => {
            let end = value[i..].find("}}").map_or(value.len(), |j| i + j + 2);
            Resolved::Unresolved(value[i..end].to_owned())
        }
        None => plain(value, at),
    }
}

/// Kubernetes manifests: Helm/Go templates `{{ … }}` and envsubst/Flux `${VAR}` placeholders
/// leave the reference unresolved.
pub(crate) fn kubernetes(value: &str, at: Option<usize>) -> Resolved {
    if let Some(i) = value.find("{{") {
        let end = value[i..].find("}}").map_or(value.len(), |j| i + j + 2);
        return Resolved::Unresolved(value[i..end].to_owned());
    }
    if let Some(i) = value.find("${") {
        let rest = &value[i + 2..];
        return Resolved::Unresolved(rest.split('}').next().unwrap_or(rest).to_owned());
    }
    plain(value, at)
}

/// A GitLab CI variable defined in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitlabVar {
    pub(crate) value: String,
    /// File span of the value text when exact.
    pub(crate) span: Option<Range<usize>>,
    /// `expand: false`: the value is used as written.
    pub(crate) raw: bool,
}

/// GitLab CI variables in scope: a job's `variables:` over the top-level ones.
pub(crate) type GitlabVars = HashMap<String, GitlabVar>;

/// How many nested variable references GitLab-style expansion follows.
const MAX_EXPANSION_DEPTH: usize = 8;

/// GitLab CI expansion: component inputs `$[[ inputs.x ]]` are unresolved (the whole
/// placeholder is the variable); `$VAR` / `${VAR}` take a variable defined in the file (expanded in
/// turn unless `expand: false`); any other variable (`$CI_REGISTRY_IMAGE`…) is unresolved;
/// `$$` is a literal `$`. When the whole value is one variable whose own value is literal
/// text, `pin` edits that variable's value.
pub(crate) fn gitlab(value: &str, at: Option<usize>, vars: &GitlabVars) -> Resolved {
    if !value.contains('$') {
        return plain(value, at);
    }
    // CI/CD component inputs, `$[[ inputs.image ]]`, are filled in when the pipeline is made.
    if let Some(i) = value.find("$[[") {
        let end = value[i..].find("]]").map_or(value.len(), |j| i + j + 2);
        return Resolved::Unresolved(value[i..end].to_owned());
    }
    let whole = value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .or_else(|| value.strip_prefix('$'))
        .filter(|n| !n.is_empty() && n.chars().all(is_name_char));
    if let Some(var) = whole.and_then(|n| vars.get(n)) {
        if !var.value.contains('$') {
            return Resolved::Text {
                value: var.value.clone(),
                literal: var.span.clone(),
            };
        }
    }
    match expand(value, vars, 0) {
        Ok(value) => Resolved::Text {
            value,
            literal: None,
        },
        Err(name) => Resolved::Unresolved(name),
    }
}

fn expand(value: &str, vars: &GitlabVars, depth: usize) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (name, after) = if let Some(r) = rest.strip_prefix('{') {
            match r.find('}') {
                Some(j) => (&r[..j], &r[j + 1..]),
                None => (r, ""),
            }
        } else {
            let len = rest.find(|c| !is_name_char(c)).unwrap_or(rest.len());
            (&rest[..len], &rest[len..])
        };
        if name.is_empty() {
            out.push('$');
            continue;
        }
        match vars.get(name) {
            Some(var) if var.raw => out.push_str(&var.value),
            Some(var) if depth < MAX_EXPANSION_DEPTH => {
                out.push_str(&expand(&var.value, vars, depth + 1)?);
            }
            _ => return Err(name.to_owned()),
        }
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str, literal: Option<Range<usize>>) -> Resolved {
        Resolved::Text {
            value: value.to_owned(),
            literal,
        }
    }

    #[test]
    fn compose_defaults_and_unset_variables() {
        assert_eq!(
            compose("nginx:1", Some(10), &Env::new()),
            Ok(text("nginx:1", Some(10..17)))
        );
        assert_eq!(
            compose("${IMG:-nginx:1}", Some(0), &Env::new()),
            Ok(text("nginx:1", Some(7..14)))
        );
        assert_eq!(
            compose("${IMG-nginx:1}", Some(0), &Env::new()),
            Ok(text("nginx:1", Some(6..13)))
        );
        assert_eq!(
            compose("${REG:-docker.io}/app:${TAG:-2}", Some(0), &Env::new()),
            Ok(text("docker.io/app:2", None))
        );
        assert_eq!(
            compose("app:${TAG:+x}1", None, &Env::new()),
            Ok(text("app:1", None))
        );
        assert_eq!(
            compose("${A:-${B:-x}}", None, &Env::new()),
            Ok(text("x", None))
        );
        assert_eq!(
            compose("${A:-${B}}", None, &Env::new()),
            Ok(Resolved::Unresolved("B".into()))
        );
        assert_eq!(
            compose("$IMAGE", None, &Env::new()),
            Ok(Resolved::Unresolved("IMAGE".into()))
        );
        assert_eq!(
            compose("reg/${NAME}:1", None, &Env::new()),
            Ok(Resolved::Unresolved("NAME".into()))
        );
        assert_eq!(
            compose("${NAME:?required}", None, &Env::new()),
            Ok(Resolved::Unresolved("NAME".into()))
        );
        assert_eq!(compose("a$$b", Some(0), &Env::new()), Ok(text("a$b", None)));
        assert!(compose("${IMG", None, &Env::new()).is_err());
        assert!(compose("${}", None, &Env::new()).is_err());
    }

    #[test]
    fn compose_reads_the_env_file_variables() {
        let env: Env = [("TAG", "1.27"), ("EMPTY", ""), ("IMG", "redis:7")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let resolve = |value: &str| compose(value, Some(0), &env);
        assert_eq!(resolve("nginx:${TAG}"), Ok(text("nginx:1.27", None)));
        assert_eq!(resolve("nginx:$TAG"), Ok(text("nginx:1.27", None)));
        assert_eq!(resolve("${IMG:-alpine:3}"), Ok(text("redis:7", None)));
        assert_eq!(resolve("nginx:${EMPTY:-1}"), Ok(text("nginx:1", None)));
        assert_eq!(resolve("nginx:${EMPTY-1}"), Ok(text("nginx:", None)));
        assert_eq!(resolve("nginx${TAG:+:2}"), Ok(text("nginx:2", None)));
        assert_eq!(
            resolve("nginx:${OTHER}"),
            Ok(Resolved::Unresolved("OTHER".into()))
        );
        assert_eq!(
            interpolate_with("a${OTHER}b$TAG", &env),
            Ok("ab1.27".into())
        );
    }

    #[test]
    fn github_expressions_are_unresolved() {
        assert_eq!(
            github("node:${{ matrix.node }}-alpine", None),
            Resolved::Unresolved("${{ matrix.node }}".into())
        );
        assert_eq!(github("redis:7", Some(3)), text("redis:7", Some(3..10)));
    }

    #[test]
    fn kubernetes_templates_are_unresolved() {
        assert_eq!(
            kubernetes("{{ .Values.image }}", None),
            Resolved::Unresolved("{{ .Values.image }}".into())
        );
        assert_eq!(
            kubernetes("reg/app:${TAG}", None),
            Resolved::Unresolved("TAG".into())
        );
    }

    #[test]
    fn gitlab_variables_from_the_file() {
        let mut vars = GitlabVars::new();
        vars.insert(
            "IMG".into(),
            GitlabVar {
                value: "alpine:3".into(),
                span: Some(40..48),
                raw: false,
            },
        );
        vars.insert(
            "TAG".into(),
            GitlabVar {
                value: "1.2".into(),
                span: Some(50..53),
                raw: false,
            },
        );
        vars.insert(
            "NESTED".into(),
            GitlabVar {
                value: "app:$TAG".into(),
                span: None,
                raw: false,
            },
        );
        assert_eq!(
            gitlab("$IMG", Some(0), &vars),
            text("alpine:3", Some(40..48))
        );
        assert_eq!(
            gitlab("${IMG}", Some(0), &vars),
            text("alpine:3", Some(40..48))
        );
        assert_eq!(gitlab("app:$TAG", Some(0), &vars), text("app:1.2", None));
        assert_eq!(gitlab("$NESTED", Some(0), &vars), text("app:1.2", None));
        assert_eq!(
            gitlab("$CI_REGISTRY_IMAGE:1", Some(0), &vars),
            Resolved::Unresolved("CI_REGISTRY_IMAGE".into())
        );
        assert_eq!(
            gitlab("${CI_REGISTRY}/x", Some(0), &vars),
            Resolved::Unresolved("CI_REGISTRY".into())
        );
        assert_eq!(
            gitlab("$[[ inputs.image ]]:1", Some(0), &vars),
            Resolved::Unresolved("$[[ inputs.image ]]".into())
        );
        let mut looped = GitlabVars::new();
        looped.insert(
            "A".into(),
            GitlabVar {
                value: "$A".into(),
                span: None,
                raw: false,
            },
        );
        assert_eq!(
            gitlab("$A", None, &looped),
            Resolved::Unresolved("A".into())
        );
    }
}
