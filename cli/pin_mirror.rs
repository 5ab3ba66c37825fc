//! `pin --mirror`: a reference that a `[[mirror]]` entry covers is written as the same
//! reference on the mirror (same tag, the digest `pin` chose), once the mirror is seen to
//! hold that digest. Which references move and where is the policy's
//! (`Config::mirror_for`), whether the mirror holds the digest the registry's, and the edit
//! the sources'; this wires them and says what was left alone.

use std::collections::BTreeMap;

use portcullis_policy::{Config, Failure, Note, Report};
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::Client;
use portcullis_sources::{Edit, PinTarget};

/// A reference with the digest `pin` chose for it.
pub type Chosen<'t, 'o> = (&'t PinTarget<'o>, &'t Digest);

/// Splits `chosen` into the references pinned where they are (returned) and those moved to
/// their mirror (their edits, by file). A reference whose mirror lacks the digest, or could
/// not be asked, is a failure in `report` and is not written at all.
pub fn redirect<'t, 'o>(
    rt: &tokio::runtime::Runtime,
    client: &Client,
    config: &Config,
    chosen: Vec<Chosen<'t, 'o>>,
    report: &mut Report,
) -> (Vec<Chosen<'t, 'o>>, BTreeMap<String, Vec<Edit>>) {
    let mut stay = Vec::new();
    let mut moves: Vec<(&PinTarget<'o>, ImageRef, ImageRef)> = Vec::new();
    for (target, digest) in chosen {
        let pinned = target.image.with_digest(digest.clone());
        let Some(mirrored) = config.mirror_for(&pinned) else {
            stay.push((target, digest));
            continue;
        };
        if target.renamable() {
            moves.push((target, pinned, mirrored.image));
        } else {
            // The name is written apart from the digest (a Helm values map): pinned where
            // it is, and the name left to the person who knows that layout.
            report.notes.push(Note::warning(format!(
                "{}: `{}` is mirrored to `{}`, but its repository is written apart from its digest; pinned at the source, change the repository by hand",
                at(target),
                target.occurrence.text,
                mirrored.entry.to.value
            )));
            stay.push((target, digest));
        }
    }
    let mut edits: BTreeMap<String, Vec<Edit>> = BTreeMap::new();
    if moves.is_empty() {
        return (stay, edits);
    }
    let wanted: Vec<ImageRef> = moves.iter().map(|(_, _, mirror)| mirror.clone()).collect();
    let held = rt.block_on(client.manifests_exist(&wanted));
    let mut reported = std::collections::BTreeSet::new();
    for (target, source, mirror) in moves {
        let message = match held.get(&mirror) {
            Some(Ok(true)) => {
                if let Some(edit) = target.edit_to(&mirror) {
                    let file = target.occurrence.location.file.clone();
                    edits.entry(file).or_default().push(edit);
                }
                continue;
            }
            Some(Err(error)) if error.repeats_earlier_failure() => continue,
            Some(Err(error)) => crate::resolve::failure(&mirror, error),
            Some(Ok(false)) | None => {
                let digest = mirror.digest().map(ToString::to_string).unwrap_or_default();
                format!(
                    "the mirror does not hold `{digest}`: `{mirror}` not found; run `portcullis mirror` to copy `{source}` there, then pin again (left alone)"
                )
            }
        };
        if reported.insert(mirror.clone()) {
            report.failures.push(Failure {
                message,
                image: Some(mirror.to_string()),
                location: Some(target.occurrence.location.clone()),
            });
        }
    }
    (stay, edits)
}

/// `file:line:col` of a reference.
fn at(target: &PinTarget<'_>) -> String {
    let loc = &target.occurrence.location;
    format!("{}:{}:{}", loc.file, loc.line, loc.column)
}
