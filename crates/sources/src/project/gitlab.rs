//! GitLab CI pipelines across files: which YAML files a GitLab CI file includes locally (so
//! they are read as GitLab CI, whatever their name), and what the files of one pipeline
//! share: the global `variables:` and the top-level keys `!reference` may name.
//!
//! A pipeline starts at a file named `.gitlab-ci.yml` or `*.gitlab-ci.yml` that no other such
//! file includes. The `include:` forms read are `include: path`, a list of paths and/or
//! `local:` mappings, and one `{local: path}` mapping; remote, project, template and
//! component includes name files outside the tree and are skipped, as are paths holding
//! variables. As in GitLab, a local path is relative to the project root whether or not it
//! starts with `/` (in nested includes too), and may use GitLab's wildcards: `*` within one
//! directory, `**` across directories, `**/` for any run of directories or none. The
//! project root of a `.gitlab-ci.yml` in a subdirectory (an example or vendored project) is
//! that directory; a path not found there is looked up from the checked tree's top.
//! Nested includes are followed, each file once per pipeline (so cycles end), up to
//! GitLab's 150 files per pipeline.
//!
//! Variables merge as GitLab merges included files: included files in order (a file's own
//! includes before its content), the including file last, a later definition winning.
//!
//! A `!reference [.job, …]` in an image or services position whose `.job` another file of
//! the pipeline defines (the last one to merge, as its definition wins) becomes an
//! [`Export`] of that file: the file reports the image at its own text, once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::rc::Rc;

use crate::yaml::gitlab::global_variables;
use crate::yaml::interpolate::GitlabVar;
use crate::yaml::tree::{parse_documents, Kind, Node};
use crate::{Context, SourceFile, SourceKind, MAX_FILE_SIZE};

/// GitLab's limit on the files one pipeline includes.
const MAX_FILES: usize = 150;

/// The GitLab CI pipelines of a tree.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pipelines {
    /// The pipeline (index into `pipelines`) each GitLab CI file is read in: the first one
    /// that reaches it.
    member_of: HashMap<String, usize>,
    pipelines: Vec<Pipeline>,
}

/// What the files of one pipeline share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pipeline {
    /// The merged global variables, each with the file (`rel`) whose definition won.
    pub(crate) variables: BTreeMap<String, (GitlabVar, String)>,
    /// Top-level keys (jobs, hidden templates, `default`…) of every file of the pipeline,
    /// with the file whose definition wins.
    keys: BTreeMap<String, String>,
    /// The files, in the order they merge (the root last).
    files: Vec<String>,
    /// By file: what other files read from it through `!reference`.
    exports: BTreeMap<String, Vec<Export>>,
}

/// A path another file of the pipeline references in an image position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Export {
    /// `[.job, image]`: the top-level key, then keys within it.
    pub(crate) keys: Vec<String>,
    /// `GitlabImage`, or `GitlabService` (the value may be a list of services).
    pub(crate) context: Context,
    /// The file holding the reference.
    pub(crate) from: String,
}

impl Pipeline {
    /// Whether some file of the pipeline defines the top-level key `key`.
    pub(crate) fn defines(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// What other files read from `file` through `!reference`.
    pub(crate) fn exports(&self, file: &str) -> &[Export] {
        self.exports.get(file).map_or(&[], Vec::as_slice)
    }
}

/// What one file contributes to its pipeline.
#[derive(Debug, Default)]
struct Facts {
    /// `include: local` paths and patterns, as written.
    includes: Vec<String>,
    variables: Vec<(String, GitlabVar)>,
    keys: Vec<String>,
    /// `!reference`s in image positions: their keys and the position's context.
    references: Vec<(Vec<String>, Context)>,
}

impl Pipelines {
    /// Follows the local includes of every GitLab CI file among `files`.
    pub(crate) fn read(files: &[SourceFile]) -> Self {
        let yaml: BTreeMap<&str, &SourceFile> = files
            .iter()
            .filter(|f| matches!(f.kind, SourceKind::GitlabCi | SourceKind::Kubernetes))
            .map(|f| (f.rel.as_str(), f))
            .collect();
        let mut roots: Vec<&str> = files
            .iter()
            .filter(|f| f.kind == SourceKind::GitlabCi)
            .map(|f| f.rel.as_str())
            .collect();
        // `.gitlab-ci.yml` at the top first, then the shallowest files.
        roots.sort_by_key(|rel| {
            (
                !matches!(*rel, ".gitlab-ci.yml" | ".gitlab-ci.yaml"),
                rel.matches('/').count(),
                *rel,
            )
        });
        let mut reader = Reader {
            yaml: &yaml,
            facts: HashMap::new(),
        };
        let built: Vec<Pipeline> = roots.iter().map(|root| reader.pipeline(root)).collect();
        let includes = |j: usize, rel: &str| built[j].files.iter().any(|f| f == rel);
        // A pipeline file that another one includes starts no pipeline of its own (of two
        // that include each other, the first in order does).
        let starts: Vec<bool> = (0..roots.len())
            .map(|i| {
                !(0..roots.len())
                    .any(|j| j != i && includes(j, roots[i]) && (j < i || !includes(i, roots[j])))
            })
            .collect();
        let mut out = Self::default();
        for (pipeline, _) in built.iter().zip(&starts).filter(|(_, s)| **s) {
            let index = out.pipelines.len();
            for file in &pipeline.files {
                out.member_of.entry(file.clone()).or_insert(index);
            }
            out.pipelines.push(pipeline.clone());
        }
        out
    }

    /// GitLab CI for a plain YAML file that a pipeline includes.
    pub(crate) fn kind_of(&self, file: &SourceFile) -> Option<SourceKind> {
        (file.kind == SourceKind::Kubernetes && self.member_of.contains_key(&file.rel))
            .then_some(SourceKind::GitlabCi)
    }

    /// The pipeline `rel` is read in, if any.
    pub(crate) fn pipeline(&self, rel: &str) -> Option<&Pipeline> {
        self.member_of.get(rel).map(|&i| &self.pipelines[i])
    }
}

/// Reads each file's facts once.
struct Reader<'a> {
    yaml: &'a BTreeMap<&'a str, &'a SourceFile>,
    facts: HashMap<String, Rc<Facts>>,
}

impl Reader<'_> {
    fn facts(&mut self, rel: &str) -> Rc<Facts> {
        if let Some(facts) = self.facts.get(rel) {
            return Rc::clone(facts);
        }
        let facts = Rc::new(
            self.yaml
                .get(rel)
                .and_then(|file| read_text(file))
                .map(|text| facts_of(&text))
                .unwrap_or_default(),
        );
        self.facts.insert(rel.to_owned(), Rc::clone(&facts));
        facts
    }

    /// The files an include names, relative to the project root `base` (empty, or a
    /// directory ending in `/`) or else to the tree's top.
    fn targets(&self, include: &str, base: &str) -> Vec<String> {
        let path = include.trim().trim_start_matches('/');
        let path = path.strip_prefix("./").unwrap_or(path);
        if path.is_empty() || path.contains('$') {
            return Vec::new();
        }
        if !base.is_empty() {
            let found = self.matches(&format!("{base}{path}"));
            if !found.is_empty() {
                return found;
            }
        }
        self.matches(path)
    }

    /// The files `path` names, sorted (GitLab includes wildcard matches in path order).
    fn matches(&self, path: &str) -> Vec<String> {
        if !path.contains('*') {
            return if self.yaml.contains_key(path) {
                vec![path.to_owned()]
            } else {
                Vec::new()
            };
        }
        self.yaml
            .keys()
            .filter(|rel| wildcard_match(path, rel))
            .map(|rel| (*rel).to_owned())
            .collect()
    }

    /// The pipeline that starts at `root`.
    fn pipeline(&mut self, root: &str) -> Pipeline {
        let mut pipeline = Pipeline::default();
        let mut seen = BTreeSet::new();
        let base = match root.rsplit_once('/') {
            Some((dir, ".gitlab-ci.yml" | ".gitlab-ci.yaml")) => format!("{dir}/"),
            _ => String::new(),
        };
        self.merge(root, &base, &mut seen, &mut pipeline);
        for file in pipeline.files.clone() {
            let facts = self.facts(&file);
            for (keys, context) in &facts.references {
                let owner = keys
                    .first()
                    .filter(|k| !facts.keys.contains(k))
                    .and_then(|k| pipeline.keys.get(k));
                if let Some(owner) = owner.filter(|o| **o != file) {
                    let export = Export {
                        keys: keys.clone(),
                        context: *context,
                        from: file.clone(),
                    };
                    let list = pipeline.exports.entry(owner.clone()).or_default();
                    if !list.contains(&export) {
                        list.push(export);
                    }
                }
            }
        }
        pipeline
    }

    /// Merges `rel` (its includes first) into `pipeline`.
    fn merge(
        &mut self,
        rel: &str,
        base: &str,
        seen: &mut BTreeSet<String>,
        pipeline: &mut Pipeline,
    ) {
        if seen.len() >= MAX_FILES || !seen.insert(rel.to_owned()) {
            return;
        }
        let facts = self.facts(rel);
        for include in &facts.includes {
            for target in self.targets(include, base) {
                self.merge(&target, base, seen, pipeline);
            }
        }
        for (name, var) in &facts.variables {
            pipeline
                .variables
                .insert(name.clone(), (var.clone(), rel.to_owned()));
        }
        for key in &facts.keys {
            pipeline.keys.insert(key.clone(), rel.to_owned());
        }
        pipeline.files.push(rel.to_owned());
    }
}

/// The text of a file as the parser sees it (without a byte-order mark), or `None` when it
/// cannot be read; the parse of the file itself reports why.
fn read_text(file: &SourceFile) -> Option<String> {
    let handle = std::fs::File::open(&file.path).ok()?;
    let mut bytes = Vec::new();
    handle.take(MAX_FILE_SIZE).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    Some(
        text.strip_prefix('\u{feff}')
            .map_or(text.clone(), str::to_owned),
    )
}

/// The includes, global variables and top-level keys of one file's text.
fn facts_of(text: &str) -> Facts {
    let mut facts = Facts::default();
    let Ok(docs) = parse_documents(text) else {
        return facts;
    };
    for doc in docs.iter().filter(|d| d.is_map()) {
        if let Some(include) = doc.get("include") {
            facts.includes.extend(local_includes(include));
        }
        facts.variables.extend(global_variables(doc));
        facts
            .keys
            .extend(doc.entries().into_iter().map(|(k, _)| k.to_owned()));
        references(doc, &mut Vec::new(), &mut facts.references);
    }
    facts.variables.sort_by(|a, b| a.0.cmp(&b.0));
    facts
}

/// How deep image positions sit: `job.services[].name`.
const MAX_POSITION_DEPTH: usize = 4;

/// Collects the `!reference`s under `node` (at key path `path`) that sit where an image or
/// services are written.
fn references(node: &Node, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Context)>) {
    if node.tag.as_deref() == Some("!reference") {
        let keys: Option<Vec<String>> = node
            .items()
            .iter()
            .map(|k| k.scalar().map(|s| s.value.clone()))
            .collect();
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let context = match segments.as_slice() {
            [.., "image"] | [.., "image", "name"] => Some(Context::GitlabImage),
            [.., "services"] | [.., "services", "[]"] | [.., "services", "[]", "name"] => {
                Some(Context::GitlabService)
            }
            _ => None,
        };
        if let (Some(keys), Some(context)) = (keys.filter(|k| !k.is_empty()), context) {
            out.push((keys, context));
        }
        return;
    }
    if path.len() >= MAX_POSITION_DEPTH {
        return;
    }
    match &node.kind {
        Kind::Map(_) => {
            for (key, value) in node.entries() {
                path.push(key.to_owned());
                references(value, path, out);
                path.pop();
            }
        }
        Kind::Seq(items) => {
            for item in items {
                path.push("[]".to_owned());
                references(item, path, out);
                path.pop();
            }
        }
        Kind::Scalar(_) => {}
    }
}

/// The local paths of an `include:` value.
fn local_includes(include: &Node) -> Vec<String> {
    let one = |node: &Node| -> Option<String> {
        if let Some(path) = node.as_str() {
            // A string is a remote include when it is a URL, a local one otherwise.
            return (!path.contains("://")).then(|| path.to_owned());
        }
        node.get("local")
            .and_then(|l| l.as_str())
            .map(str::to_owned)
    };
    match &include.kind {
        Kind::Seq(items) => items.iter().filter_map(|i| one(i)).collect(),
        _ => one(include).into_iter().collect(),
    }
}

/// One piece of a GitLab wildcard path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// `**/`: any run of directories, or none.
    Dirs,
    /// `**`: any characters, `/` included.
    Any,
    /// `*`: any characters but `/`.
    Star,
    Char(char),
}

/// Whether `path` matches the whole of `pattern` in GitLab's wildcard grammar (everything
/// but `*` is literal).
fn wildcard_match(pattern: &str, path: &str) -> bool {
    let mut pieces = Vec::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        let (piece, len) = if rest.starts_with("**/") {
            (Piece::Dirs, 3)
        } else if rest.starts_with("**") {
            (Piece::Any, 2)
        } else if c == '*' {
            (Piece::Star, 1)
        } else {
            (Piece::Char(c), c.len_utf8())
        };
        pieces.push(piece);
        rest = &rest[len..];
    }
    let path: Vec<char> = path.chars().collect();
    let n = path.len();
    // `at[j]`: the pieces read so far can end at path position `j`.
    let mut at = vec![false; n + 1];
    at[0] = true;
    for piece in pieces {
        let mut next = vec![false; n + 1];
        for j in (0..=n).filter(|&j| at[j]) {
            match piece {
                Piece::Char(c) => {
                    if path.get(j) == Some(&c) {
                        next[j + 1] = true;
                    }
                }
                Piece::Star => {
                    next[j] = true;
                    for k in j..n {
                        if path[k] == '/' {
                            break;
                        }
                        next[k + 1] = true;
                    }
                }
                Piece::Any => next[j..].iter_mut().for_each(|m| *m = true),
                Piece::Dirs => {
                    next[j] = true;
                    for k in j..n {
                        if path[k] == '/' {
                            next[k + 1] = true;
                        }
                    }
                }
            }
        }
        at = next;
    }
    at[n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_follow_gitlab_grammar() {
        let cases = [
            ("ci/*.yml", "ci/a.yml", true),
            ("ci/*.yml", "ci/sub/a.yml", false),
            ("ci/**.yml", "ci/sub/a.yml", true),
            ("ci/**/*.yml", "ci/a.yml", true),
            ("ci/**/*.yml", "ci/x/y/a.yml", true),
            ("ci/**/*.yml", "cix/a.yml", false),
            ("libs/*/ci.yml", "libs/web/ci.yml", true),
            ("libs/*/ci.yml", "libs/web/x/ci.yml", false),
            ("ci/[ab].yml", "ci/a.yml", false),
            ("ci/[ab].yml", "ci/[ab].yml", true),
            ("*.yml", "ci/a.yml", false),
            ("ci/*.yml", "ci/a.yaml", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(wildcard_match(pattern, path), expected, "{pattern} {path}");
        }
    }

    #[test]
    fn include_forms() {
        let text = "include:\n  - ci/a.yml\n  - local: /ci/b.yml\n  - remote: https://x/y.yml\n  - project: g/p\n    file: /c.yml\n  - template: Auto-DevOps.gitlab-ci.yml\n  - https://example.com/r.yml\n  - component: $CI_SERVER_FQDN/g/c@1\n";
        let facts = facts_of(text);
        assert_eq!(facts.includes, ["ci/a.yml", "/ci/b.yml"]);
        assert_eq!(facts_of("include: ci/one.yml\n").includes, ["ci/one.yml"]);
        assert_eq!(
            facts_of("include: {local: ci/one.yml, rules: [{if: $X}]}\n").includes,
            ["ci/one.yml"]
        );
    }
}
