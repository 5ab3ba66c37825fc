//! Byte-span edits for `pin`: check that each edit still matches the file, apply them, and
//! replace the file atomically so an interrupted run never leaves a half-written source.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::encoding::Encoding;
use crate::{Edit, SourceError};

/// The new content after applying `edits` to `content`. A UTF-16 file is edited as its
/// UTF-8 text (where [`crate::parse`]'s spans point) and written back in UTF-16 with the
/// same byte order.
pub(crate) fn apply(path: &Path, content: &[u8], edits: &[Edit]) -> Result<Vec<u8>, SourceError> {
    let encoding = Encoding::of(content);
    if encoding == Encoding::Utf8 {
        return apply_bytes(path, content, edits);
    }
    let text = encoding.decode(content).map_err(|_| SourceError::Refused {
        path: path.to_owned(),
        reason: "it starts with a UTF-16 byte-order mark but is not UTF-16 text".to_owned(),
    })?;
    let edited = apply_bytes(path, text.as_bytes(), edits)?;
    // Edits replace whole UTF-8 sequences (checked against `expected`) with UTF-8 text.
    let edited = String::from_utf8(edited).map_err(|_| SourceError::Refused {
        path: path.to_owned(),
        reason: "an edit would split a character".to_owned(),
    })?;
    Ok(encoding.encode(&edited))
}

/// `edits` applied to `content` byte for byte.
fn apply_bytes(path: &Path, content: &[u8], edits: &[Edit]) -> Result<Vec<u8>, SourceError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.span.start, e.span.end));
    for pair in sorted.windows(2) {
        if pair[1].span.start < pair[0].span.end || pair[1].span.start == pair[0].span.start {
            return Err(SourceError::Overlap {
                path: path.to_owned(),
                first: pair[0].span.clone(),
                second: pair[1].span.clone(),
            });
        }
    }
    for edit in &sorted {
        let found = content.get(edit.span.clone());
        if edit.span.start > edit.span.end || found != Some(edit.expected.as_bytes()) {
            return Err(SourceError::Stale {
                path: path.to_owned(),
                expected: edit.expected.clone(),
                offset: edit.span.start,
            });
        }
    }
    let mut out = content.to_vec();
    for edit in sorted.iter().rev() {
        out.splice(edit.span.clone(), edit.replacement.bytes());
    }
    Ok(out)
}

/// Applies `edits` to the file at `path`; writes only when the content changes, and only a
/// regular, writable file inside `tree`: a symbolic link is written through only when its
/// target stays inside `tree`, and a read-only file is left alone. The new file keeps the
/// old one's mode and owner.
pub(crate) fn rewrite(path: &Path, edits: &[Edit], tree: &Path) -> Result<bool, SourceError> {
    let refuse = |reason: String| SourceError::Refused {
        path: path.to_owned(),
        reason,
    };
    let read_err = |source| SourceError::Read {
        path: path.to_owned(),
        source,
    };
    let target = fs::canonicalize(path).map_err(read_err)?;
    let tree = fs::canonicalize(tree).unwrap_or_else(|_| tree.to_owned());
    if !target.starts_with(&tree) {
        return Err(refuse(format!(
            "it leads to `{}`, outside the repository",
            crate::paths::relative_to(&target, &tree)
        )));
    }
    let meta = fs::metadata(&target).map_err(read_err)?;
    if !meta.is_file() {
        return Err(refuse("it is not a regular file".to_owned()));
    }
    if meta.permissions().readonly() {
        return Err(refuse("it is read-only".to_owned()));
    }
    let content = fs::read(&target).map_err(read_err)?;
    let new = apply(path, &content, edits)?;
    if new == content {
        return Ok(false);
    }
    replace(&target, |out| out.write_all(&new), Some(meta.permissions()))
        .and_then(|()| keep_owner(&target, &meta))
        .map_err(|source| SourceError::Write {
            path: path.to_owned(),
            source,
        })?;
    Ok(true)
}

/// Gives the replaced file its old owner back (a no-op when it is already ours).
#[cfg(unix)]
fn keep_owner(target: &Path, old: &fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let now = fs::metadata(target)?;
    if (now.uid(), now.gid()) == (old.uid(), old.gid()) {
        return Ok(());
    }
    std::os::unix::fs::chown(target, Some(old.uid()), Some(old.gid()))
}

#[cfg(not(unix))]
fn keep_owner(_: &Path, _: &fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

/// Writes `content` to `path` atomically: a temporary file in the same directory, synced,
/// renamed over `path`, and the directory synced. An existing file keeps its permissions; a
/// new one gets `0666` less the umask, as a shell redirection would. Devices and pipes
/// (`/dev/stdout`, `/dev/null`) are written directly.
pub fn write_atomic(path: &Path, content: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |out| out.write_all(content))
}

/// [`write_atomic`] of what `write` writes, as it writes it (a large report is never held
/// whole). When `write` fails, `path` is left as it was (a device or pipe keeps what was
/// written).
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    match fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            let mut file = fs::File::create(path)?;
            write(&mut file)?;
            file.flush()
        }
        Ok(meta) => replace(path, write, Some(meta.permissions())),
        Err(_) => replace(path, write, None),
    }
}

/// Writes to a temporary file next to `target`, syncs it and renames it over `target`.
fn replace(
    target: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    permissions: Option<fs::Permissions>,
) -> std::io::Result<()> {
    let dir = parent_dir(target);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".portcullis-").suffix(".tmp");
    #[cfg(unix)]
    let new_file = {
        use std::os::unix::fs::PermissionsExt as _;
        fs::Permissions::from_mode(0o666)
    };
    #[cfg(unix)]
    if permissions.is_none() {
        // Passed to open(2), so the umask applies, unlike a later chmod.
        builder.permissions(new_file);
    }
    let mut tmp = builder.tempfile_in(&dir)?;
    write(&mut tmp)?;
    tmp.flush()?;
    if let Some(permissions) = permissions {
        fs::set_permissions(tmp.path(), permissions)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    // Make the rename itself durable; not every platform can open a directory, so best effort.
    if let Ok(dir) = fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(span: std::ops::Range<usize>, expected: &str, replacement: &str) -> Edit {
        Edit {
            span,
            expected: expected.into(),
            replacement: replacement.into(),
        }
    }

    #[test]
    fn a_streamed_write_lands_whole_or_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.json");
        write_atomic_with(&target, |out| {
            out.write_all(b"{\"a\": ")?;
            out.write_all(b"1}")
        })
        .unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"{\"a\": 1}");
        // A writer that fails halfway (a report cut short) replaces nothing.
        let failed = write_atomic_with(&target, |out| {
            out.write_all(b"{\"b\": ")?;
            Err(std::io::Error::other("cut short"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "cut short");
        assert_eq!(fs::read(&target).unwrap(), b"{\"a\": 1}");
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }

    #[cfg(unix)]
    #[test]
    fn new_files_follow_the_umask_and_existing_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("report.json");
        write_atomic(&new, b"{}").unwrap();
        let mode = fs::metadata(&new).unwrap().permissions().mode() & 0o777;
        // Group and others can read it (the usual umask 022 or 002), unlike a 0600 temp file.
        assert_eq!(mode & 0o044, 0o044, "{mode:o}");
        fs::set_permissions(&new, fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&new, b"[]").unwrap();
        assert_eq!(fs::read(&new).unwrap(), b"[]");
        let mode = fs::metadata(&new).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let leftovers = fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn applies_edits_in_any_order_keeping_other_bytes() {
        let content = b"FROM a:1\nFROM b:2\n";
        let edits = [
            edit(14..17, "b:2", "b:2@sha256:x"),
            edit(5..8, "a:1", "a:1@d"),
        ];
        let out = apply(Path::new("Dockerfile"), content, &edits).unwrap();
        assert_eq!(out, b"FROM a:1@d\nFROM b:2@sha256:x\n");
    }

    #[test]
    fn stale_edit_is_rejected_with_offset() {
        let err = apply(
            Path::new("Dockerfile"),
            b"FROM a:1\n",
            &[edit(5..8, "a:2", "x")],
        )
        .unwrap_err();
        assert!(matches!(err, SourceError::Stale { offset: 5, .. }), "{err}");
        assert!(err.to_string().contains("`a:2`"));
    }

    #[test]
    fn out_of_range_and_reversed_spans_are_stale_not_panics() {
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 6..5;
        for span in [5..80, reversed, 100..100] {
            let err = apply(Path::new("f"), b"FROM a:1\n", &[edit(span, "", "x")]).unwrap_err();
            assert!(matches!(err, SourceError::Stale { .. }), "{err}");
        }
    }

    #[test]
    fn overlapping_edits_are_rejected() {
        let err = apply(
            Path::new("f"),
            b"abcdef",
            &[edit(0..3, "abc", "x"), edit(2..4, "cd", "y")],
        )
        .unwrap_err();
        assert!(matches!(err, SourceError::Overlap { .. }), "{err}");
        // Two insertions at the same point have no defined order either.
        let err = apply(
            Path::new("f"),
            b"abcdef",
            &[edit(1..1, "", "x"), edit(1..1, "", "y")],
        )
        .unwrap_err();
        assert!(matches!(err, SourceError::Overlap { .. }), "{err}");
    }
}
