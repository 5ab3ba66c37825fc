//! `check` on a corpus of real public repositories, against a ground truth built without
//! portcullis's parsers (`tests/corpus/ground_truth.py` → `tests/corpus/expected.json`).
//!
//! Every expected reference must be found at its line with its effective image, nothing may
//! be invented, and no file of the corpus (all accepted by compose, kubectl, `BuildKit` and
//! the CI services) may be `file-invalid`. Differences that features still to come will close
//! are listed in `tests/corpus/known-gaps.json`; the test fails on any difference not
//! listed there and on any listed gap that no longer occurs, so the list only shrinks.
//! `PORTCULLIS_CORPUS_PRUNE=1` removes the closed gaps from the list (it never adds one).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use common::{portcullis, repo_root, stderr};
use serde_json::Value;

/// One difference: repository, file, line, image (`None`: unresolved or not an image) and
/// its kind (`missing`, `invented` or `invalid`).
type Diff = (String, String, u64, Option<String>, String);

/// A reference as compared: file, line and image (`None`: unresolved).
type Seen = BTreeSet<(String, u64, Option<String>)>;

const POLICY: &str = "[images]\nallow = [\"**\"]\nrequire-digest = false\ndeny-tags = []\n";

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What `check` reports for one corpus repository: images and unresolved references, and
/// the files it could not read.
fn actual(repo: &str, policy: &Path) -> (Seen, Vec<Diff>) {
    let dir = format!("tests/corpus/{repo}");
    let out = portcullis()
        .current_dir(repo_root())
        .args(["check", &dir, "--config"])
        .arg(policy)
        .args(["--format", "json", "--no-progress"])
        .output()
        .expect("run portcullis");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{repo}: panic:\n{err}");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{repo}: no JSON report ({e}); stderr:\n{err}"));
    let prefix = format!("{dir}/");
    let rel = |v: &Value| -> String {
        let f = v["file"].as_str().unwrap_or_default();
        f.strip_prefix(&prefix).unwrap_or(f).to_owned()
    };
    let mut seen = BTreeSet::new();
    for image in report["images"].as_array().expect("images") {
        let line = image["line"].as_u64().unwrap_or(0);
        seen.insert((rel(image), line, image["image"].as_str().map(str::to_owned)));
    }
    let mut invalid = Vec::new();
    for finding in report["findings"].as_array().expect("findings") {
        let line = finding["line"].as_u64().unwrap_or(0);
        match finding["rule"].as_str() {
            Some("unresolved-variable") => {
                seen.insert((rel(finding), line, None));
            }
            Some("file-invalid" | "reference-invalid") => {
                let image = finding["image"].as_str().map(str::to_owned);
                invalid.push((
                    repo.to_owned(),
                    rel(finding),
                    line,
                    image,
                    "invalid".to_owned(),
                ));
            }
            _ => {}
        }
    }
    (seen, invalid)
}

fn expected(entries: &Value) -> Seen {
    entries
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["file"].as_str().expect("file").to_owned(),
                e["line"].as_u64().expect("line"),
                e["image"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn gaps(known: &Value) -> BTreeMap<Diff, String> {
    known
        .as_array()
        .expect("known gaps")
        .iter()
        .map(|g| {
            let diff = (
                g["repo"].as_str().expect("repo").to_owned(),
                g["file"].as_str().expect("file").to_owned(),
                g["line"].as_u64().expect("line"),
                g["image"].as_str().map(str::to_owned),
                g["kind"].as_str().expect("kind").to_owned(),
            );
            (diff, g["feature"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn show(d: &Diff) -> String {
    let (repo, file, line, image, kind) = d;
    let image = image.as_deref().unwrap_or("(unresolved)");
    format!("{kind:8} {repo}/{file}:{line} {image}")
}

#[test]
fn corpus_matches_ground_truth() {
    let root = repo_root().join("tests/corpus");
    let truth = read_json(&root.join("expected.json"));
    let known = gaps(&read_json(&root.join("known-gaps.json")));
    let tmp = tempfile::tempdir().unwrap();
    let policy = tmp.path().join("portcullis.toml");
    std::fs::write(&policy, POLICY).unwrap();

    let mut diffs = BTreeSet::new();
    let (mut found, mut total) = (0, 0);
    for (repo, entries) in truth.as_object().expect("repositories") {
        let want = expected(entries);
        let (got, invalid) = actual(repo, &policy);
        total += want.len();
        found += want.intersection(&got).count();
        for (file, line, image) in want.difference(&got) {
            diffs.insert((
                repo.clone(),
                file.clone(),
                *line,
                image.clone(),
                "missing".into(),
            ));
        }
        for (file, line, image) in got.difference(&want) {
            diffs.insert((
                repo.clone(),
                file.clone(),
                *line,
                image.clone(),
                "invented".into(),
            ));
        }
        diffs.extend(invalid);
    }

    let mut report = String::new();
    let new: Vec<&Diff> = diffs.iter().filter(|d| !known.contains_key(*d)).collect();
    let closed: Vec<(&Diff, &String)> = known.iter().filter(|(d, _)| !diffs.contains(*d)).collect();
    if !new.is_empty() {
        writeln!(
            report,
            "differences from tests/corpus/expected.json not in known-gaps.json:"
        )
        .unwrap();
        for d in &new {
            writeln!(report, "  {}", show(d)).unwrap();
        }
    }
    if !closed.is_empty() && std::env::var_os("PORTCULLIS_CORPUS_PRUNE").is_some() {
        // Maintenance: drop the gaps a change closed, keep every other entry as written.
        let path = root.join("known-gaps.json");
        let mut list = read_json(&path);
        list.as_array_mut().expect("known gaps").retain(|g| {
            let diff = (
                g["repo"].as_str().unwrap_or_default().to_owned(),
                g["file"].as_str().unwrap_or_default().to_owned(),
                g["line"].as_u64().unwrap_or_default(),
                g["image"].as_str().map(str::to_owned),
                g["kind"].as_str().unwrap_or_default().to_owned(),
            );
            diffs.contains(&diff)
        });
        let text = serde_json::to_string_pretty(&list).expect("json") + "\n";
        std::fs::write(&path, text).expect("write known-gaps.json");
    } else if !closed.is_empty() {
        writeln!(
            report,
            "known gaps that no longer occur (remove them from known-gaps.json):"
        )
        .unwrap();
        for (d, feature) in &closed {
            writeln!(report, "  {} [{feature}]", show(d)).unwrap();
        }
    }
    assert!(
        report.is_empty(),
        "corpus: {found}/{total} expected references found\n{report}"
    );
}
