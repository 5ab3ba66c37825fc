//! `rewrite`/`apply` on real files: the pin flow from parsed literals, atomicity (a stale
//! edit leaves the file byte-identical), permissions, symbolic links and no-op rewrites.

use std::fs;
use std::path::Path;

use portcullis_sources::{
    apply, parse, rewrite, Edit, ParseOptions, Resolution, SourceError, SourceFile, SourceKind,
};

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Edits that pin every literal the way `pin` does: `name:tag` → `name:tag@digest`.
fn pin_edits(path: &Path) -> Vec<Edit> {
    let bytes = fs::read(path).unwrap();
    let file = SourceFile {
        path: path.to_owned(),
        rel: "Dockerfile".into(),
        kind: SourceKind::Dockerfile,
    };
    let (occurrences, problems) = parse(&file, &bytes, &ParseOptions::default());
    assert!(problems.is_empty(), "{problems:?}");
    let mut edits: Vec<Edit> = occurrences
        .iter()
        .filter_map(|o| o.literal.as_ref())
        .map(|l| Edit {
            span: l.span.clone(),
            expected: l.text.clone(),
            replacement: format!("{}@{DIGEST}", l.text),
        })
        .collect();
    // Two `FROM $BASE` lines share the ARG default: one edit.
    edits.sort_by_key(|e| e.span.start);
    edits.dedup();
    edits
}

#[test]
fn pins_from_copy_and_arg_defaults_keeping_formatting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    let original = "\u{feff}ARG BASE=\"alpine:3.20\"\r\nFROM --platform=$BUILDPLATFORM $BASE AS build\r\nFROM ${BASE}\r\n  COPY --from=busybox:1.36 \\\r\n    /bin/sh /sh\r\n";
    fs::write(&path, original).unwrap();
    let edits = pin_edits(&path);
    assert_eq!(edits.len(), 2);
    assert!(rewrite(&path, &edits, path.parent().unwrap()).unwrap());
    let pinned = fs::read_to_string(&path).unwrap();
    assert_eq!(
        pinned,
        original
            .replace("alpine:3.20", &format!("alpine:3.20@{DIGEST}"))
            .replace("busybox:1.36", &format!("busybox:1.36@{DIGEST}"))
    );
    let file = SourceFile {
        path: path.clone(),
        rel: "Dockerfile".into(),
        kind: SourceKind::Dockerfile,
    };
    let (occurrences, _) = parse(&file, pinned.as_bytes(), &ParseOptions::default());
    assert_eq!(occurrences.len(), 3);
    for o in &occurrences {
        let Resolution::Image(image) = &o.resolution else {
            panic!("{o:?}")
        };
        assert_eq!(
            image.digest().map(ToString::to_string).as_deref(),
            Some(DIGEST),
            "{o:?}"
        );
    }
}

#[test]
fn stale_edit_leaves_the_file_byte_identical_and_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    fs::write(&path, "FROM alpine:3.20\nFROM nginx:1.27\n").unwrap();
    let mut edits = pin_edits(&path);
    // The file changes between parse and rewrite.
    fs::write(&path, "FROM alpine:3.20\nFROM nginx:1.28\n").unwrap();
    let before = fs::read(&path).unwrap();
    let err = rewrite(&path, &edits, path.parent().unwrap()).unwrap_err();
    assert!(
        matches!(&err, SourceError::Stale { expected, offset: 22, .. } if expected == "nginx:1.27"),
        "{err}"
    );
    assert_eq!(fs::read(&path).unwrap(), before);
    let entries: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, ["Dockerfile"]);

    edits.push(Edit {
        span: 5..8,
        expected: "alp".into(),
        replacement: String::new(),
    });
    let err = rewrite(&path, &edits, path.parent().unwrap()).unwrap_err();
    assert!(matches!(err, SourceError::Overlap { .. }), "{err}");
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn permissions_are_kept_and_unchanged_content_is_not_written() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    fs::write(&path, "FROM alpine:3.20\n").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o751)).unwrap();
    let inode = fs::metadata(&path).unwrap().ino();

    let same = Edit {
        span: 5..16,
        expected: "alpine:3.20".into(),
        replacement: "alpine:3.20".into(),
    };
    assert!(!rewrite(&path, &[same], path.parent().unwrap()).unwrap());
    assert!(!rewrite(&path, &[], path.parent().unwrap()).unwrap());
    assert_eq!(
        fs::metadata(&path).unwrap().ino(),
        inode,
        "a no-op must not replace the file"
    );

    assert!(rewrite(&path, &pin_edits(&path), path.parent().unwrap()).unwrap());
    let meta = fs::metadata(&path).unwrap();
    assert_ne!(
        meta.ino(),
        inode,
        "the file is replaced by rename, not written in place"
    );
    assert_eq!(meta.permissions().mode() & 0o7777, 0o751);
}

#[cfg(unix)]
#[test]
fn rewriting_through_a_symlink_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.Dockerfile");
    let link = dir.path().join("Dockerfile");
    fs::write(&real, "FROM alpine:3.20\n").unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(rewrite(&link, &pin_edits(&link), dir.path()).unwrap());
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&real).unwrap().contains(DIGEST));
}

#[test]
fn apply_does_not_touch_the_disk() {
    let out = apply(
        Path::new("does/not/exist"),
        b"FROM a:1\n",
        &[Edit {
            span: 5..8,
            expected: "a:1".into(),
            replacement: "a:2".into(),
        }],
    )
    .unwrap();
    assert_eq!(out, b"FROM a:2\n");
}

#[test]
fn missing_file_is_a_read_error() {
    let err = rewrite(Path::new("/nonexistent/Dockerfile"), &[], Path::new("/")).unwrap_err();
    assert!(matches!(err, SourceError::Read { .. }), "{err}");
}

/// `pin` wrote through a symlink to a target outside the repository, and replaced read-only
/// files and their owner.
#[cfg(unix)]
#[test]
fn links_out_of_the_tree_and_read_only_files_are_refused_and_owners_kept() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("repo");
    fs::create_dir_all(&tree).unwrap();
    let outside = dir.path().join("outside.Dockerfile");
    fs::write(&outside, "FROM alpine:3.20\n").unwrap();
    let link = tree.join("Dockerfile");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let err = rewrite(&link, &pin_edits(&link), &tree).unwrap_err();
    assert!(
        matches!(err, SourceError::Refused { .. })
            && err.to_string().contains("outside the repository"),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&outside).unwrap(), "FROM alpine:3.20\n");

    let locked = tree.join("locked.Dockerfile");
    fs::write(&locked, "FROM alpine:3.20\n").unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o444)).unwrap();
    let err = rewrite(&locked, &pin_edits(&locked), &tree).unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    assert_eq!(fs::read_to_string(&locked).unwrap(), "FROM alpine:3.20\n");

    let owned = tree.join("owned.Dockerfile");
    fs::write(&owned, "FROM alpine:3.20\n").unwrap();
    // Only root can give a file away; elsewhere the owner is ours and stays ours.
    let other = std::os::unix::fs::chown(&owned, Some(4242), Some(4242)).is_ok();
    assert!(rewrite(&owned, &pin_edits(&owned), &tree).unwrap());
    let meta = fs::metadata(&owned).unwrap();
    if other {
        assert_eq!((meta.uid(), meta.gid()), (4242, 4242));
    }
    assert!(fs::read_to_string(&owned).unwrap().contains(DIGEST));
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    text.encode_utf16()
        .flat_map(|u| {
            if big_endian {
                u.to_be_bytes()
            } else {
                u.to_le_bytes()
            }
        })
        .collect()
}

// A UTF-16 Dockerfile is pinned and written back in UTF-16 with its byte order and mark;
// editing its bytes with the UTF-8 spans would corrupt it.
#[test]
fn utf16_files_are_pinned_in_utf16() {
    let text = "\u{feff}# café\nFROM alpine:3.20 AS base\nCOPY --from=nginx:1.27 /a /b\n";
    let pinned = format!(
        "\u{feff}# café\nFROM alpine:3.20@{DIGEST} AS base\nCOPY --from=nginx:1.27@{DIGEST} /a /b\n"
    );
    for big_endian in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        fs::write(&path, utf16(text, big_endian)).unwrap();
        let edits = pin_edits(&path);
        assert_eq!(edits.len(), 2);
        assert!(rewrite(&path, &edits, dir.path()).unwrap());
        assert_eq!(fs::read(&path).unwrap(), utf16(&pinned, big_endian));
    }
}

// A UTF-8 byte-order mark is kept, and spans count it.
#[test]
fn utf8_byte_order_mark_is_kept_when_pinning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Dockerfile");
    fs::write(&path, "\u{feff}FROM alpine:3.20\n").unwrap();
    let edits = pin_edits(&path);
    assert!(rewrite(&path, &edits, dir.path()).unwrap());
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("\u{feff}FROM alpine:3.20@{DIGEST}\n")
    );
}

#[test]
fn broken_utf16_is_refused_not_corrupted() {
    let edit = Edit {
        span: 3..4,
        expected: "a".into(),
        replacement: "b".into(),
    };
    // A UTF-16 mark, `a`, then a lone surrogate.
    let content = [0xff, 0xfe, b'a', 0, 0x00, 0xd8];
    let error = apply(Path::new("f"), &content, &[edit]).unwrap_err();
    assert!(
        matches!(&error, SourceError::Refused { reason, .. } if reason.contains("not UTF-16")),
        "{error:?}"
    );
}
