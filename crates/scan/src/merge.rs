//! Merging findings of several scanners (and several reports) into one finding per
//! vulnerability and package, so that Trivy and Grype agreeing on a CVE count once.
//!
//! Two findings are the same when their package names are equal, their installed versions
//! are equal (or one is unknown), and one's id is the other's id or alias (case-insensitive;
//! Grype's GHSA finding with a related CVE joins Trivy's CVE finding). Sharing only an
//! alias is not enough, since an advisory id can cover several CVEs. The merged finding keeps a
//! `CVE-` id when there is one, unions aliases, scanners and fixed versions, takes the
//! highest severity and CVSS score, and the most informative fix state (`Fixed` over
//! `WontFix` over `NotFixed` over `Unknown`). A VEX suppression by any input carries over:
//! a `not_affected` statement is about the vulnerability, not about the scanner.

use std::collections::HashMap;

use crate::util::{max_cvss, push_unique};
use crate::{FixState, SuppressedBy, Vulnerability};

fn fix_rank(state: FixState) -> u8 {
    match state {
        FixState::Unknown => 0,
        FixState::NotFixed => 1,
        FixState::WontFix => 2,
        FixState::Fixed => 3,
    }
}

fn same(a: &Vulnerability, b: &Vulnerability) -> bool {
    if a.package != b.package {
        return false;
    }
    if !a.installed.is_empty() && !b.installed.is_empty() && a.installed != b.installed {
        return false;
    }
    // One's id must be the other's id or alias. Two findings that merely share an alias
    // stay apart: an advisory id (`RHSA-2019:2304`) can cover several CVEs.
    let names = |v: &Vulnerability, id: &str| {
        std::iter::once(&v.id)
            .chain(&v.aliases)
            .any(|n| n.eq_ignore_ascii_case(id))
    };
    names(a, &b.id) || names(b, &a.id)
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Merges findings that describe the same vulnerability in the same package.
/// Output order: by id, then package, then installed version.
#[must_use]
pub fn merge(vulns: Vec<Vulnerability>) -> Vec<Vulnerability> {
    let mut parent: Vec<usize> = (0..vulns.len()).collect();
    let mut by_package: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, v) in vulns.iter().enumerate() {
        by_package.entry(v.package.as_str()).or_default().push(i);
    }
    for members in by_package.values() {
        // Index the group by id/alias so the common case (no aliases) stays linear.
        let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
        for &i in members {
            for id in std::iter::once(&vulns[i].id).chain(&vulns[i].aliases) {
                by_id.entry(id.to_ascii_uppercase()).or_default().push(i);
            }
        }
        for candidates in by_id.values() {
            for (n, &a) in candidates.iter().enumerate() {
                for &b in &candidates[n + 1..] {
                    if same(&vulns[a], &vulns[b]) {
                        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                        if ra != rb {
                            parent[rb.max(ra)] = ra.min(rb);
                        }
                    }
                }
            }
        }
    }
    let mut merged: Vec<Option<Vulnerability>> = Vec::with_capacity(vulns.len());
    let mut slot_of_root: HashMap<usize, usize> = HashMap::new();
    for (i, v) in vulns.into_iter().enumerate() {
        let root = find(&mut parent, i);
        if let Some(&slot) = slot_of_root.get(&root) {
            if let Some(into) = merged[slot].as_mut() {
                absorb(into, v);
            }
        } else {
            slot_of_root.insert(root, merged.len());
            merged.push(Some(v));
        }
    }
    let mut out: Vec<Vulnerability> = merged.into_iter().flatten().collect();
    for v in &mut out {
        v.scanners.sort();
        v.scanners.dedup();
        v.aliases.sort();
    }
    out.sort_by(|a, b| (&a.id, &a.package, &a.installed).cmp(&(&b.id, &b.package, &b.installed)));
    out
}

fn absorb(into: &mut Vulnerability, v: Vulnerability) {
    let mut ids: Vec<String> = Vec::new();
    for id in std::iter::once(&into.id)
        .chain(&into.aliases)
        .chain(std::iter::once(&v.id))
        .chain(&v.aliases)
    {
        if !ids.iter().any(|known| known.eq_ignore_ascii_case(id)) {
            ids.push(id.clone());
        }
    }
    if !into.id.starts_with("CVE-") && v.id.starts_with("CVE-") {
        into.id.clone_from(&v.id);
    }
    into.aliases = ids
        .into_iter()
        .filter(|id| !id.eq_ignore_ascii_case(&into.id))
        .collect();
    if into.installed.is_empty() {
        into.installed = v.installed;
    }
    for version in &v.fixed {
        push_unique(&mut into.fixed, version);
    }
    if fix_rank(v.fix_state) > fix_rank(into.fix_state) {
        into.fix_state = v.fix_state;
    }
    if !into.fixed.is_empty() {
        into.fix_state = FixState::Fixed;
    }
    into.severity = into.severity.max(v.severity);
    into.cvss = max_cvss(into.cvss, v.cvss);
    for scanner in &v.scanners {
        push_unique(&mut into.scanners, scanner);
    }
    into.title = into.title.take().or(v.title);
    into.url = into.url.take().or(v.url);
    into.location = into.location.take().or(v.location);
    into.operating_system = into.operating_system.take().or(v.operating_system);
    for vector in v.cvss_vectors {
        if !into
            .cvss_vectors
            .iter()
            .any(|known| known.vector == vector.vector && known.source == vector.source)
        {
            into.cvss_vectors.push(vector);
        }
    }
    if into.suppressed_by.is_none() && v.suppressed_by == Some(SuppressedBy::Vex) {
        into.suppressed_by = v.suppressed_by;
        into.justification = v.justification;
    }
}
