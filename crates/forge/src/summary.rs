//! The job summary: the Markdown report appended to the file GitHub Actions names in
//! `$GITHUB_STEP_SUMMARY`. GitHub refuses a step's summary over 1 MiB as a whole
//! ("`$GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k`"), so
//! what portcullis appends is cut to the room the file has left.

use std::io::Write as _;
use std::path::Path;

/// GitHub's cap on one step's summary file, in bytes.
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// The line that ends a summary cut to the limit.
pub const SUMMARY_CUT_NOTE: &str =
    "_report cut at GitHub's 1 MiB step summary limit; the JSON and SARIF reports list everything_";

/// `markdown` as it fits in a summary that already holds `used` bytes: whole when it fits,
/// else its head cut at the last paragraph (else line) break in the last fifth of the room,
/// never inside a character, and ended with [`SUMMARY_CUT_NOTE`]. Empty when not even the
/// note fits.
#[must_use]
pub fn fit(markdown: &str, used: usize) -> String {
    let room = STEP_SUMMARY_LIMIT.saturating_sub(used);
    if markdown.len() <= room {
        return markdown.to_owned();
    }
    let note = format!("\n\n{SUMMARY_CUT_NOTE}\n");
    let Some(mut end) = room.checked_sub(note.len()) else {
        return String::new();
    };
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    let head = &markdown[..end];
    let floor = head.len() * 4 / 5;
    let at = head
        .rfind("\n\n")
        .filter(|at| *at >= floor)
        .or_else(|| head.rfind('\n').filter(|at| *at >= floor))
        .unwrap_or(end);
    format!("{}{note}", &markdown[..at])
}

/// How many bytes the summary file `path` holds already (0 when it does not exist yet).
fn used(path: &Path) -> std::io::Result<usize> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(usize::try_from(meta.len()).unwrap_or(usize::MAX)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(error) => Err(error),
    }
}

/// The room left in the summary file `path`, in bytes: the budget to render the Markdown
/// with (`portcullis_report::markdown_with_limit`), so it leaves out whole groups with its
/// own note rather than being cut by [`append`].
pub fn room(path: &Path) -> std::io::Result<usize> {
    Ok(STEP_SUMMARY_LIMIT.saturating_sub(used(path)?))
}

/// Appends `markdown` to the summary file `path`, cut to the room left in it ([`fit`]).
/// Returns whether it had to be cut.
pub fn append(path: &Path, markdown: &str) -> std::io::Result<bool> {
    let text = fit(markdown, used(path)?);
    let cut = text.len() != markdown.len();
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())?;
    Ok(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_that_fits_is_kept_whole() {
        assert_eq!(fit("# ok\n", 0), "# ok\n");
        let full = "x".repeat(STEP_SUMMARY_LIMIT);
        assert_eq!(fit(&full, 0), full);
    }

    #[test]
    fn a_long_summary_is_cut_at_a_paragraph_under_the_limit() {
        let paragraph = format!("{}\n\n", "a".repeat(999));
        let markdown = paragraph.repeat(2_000);
        let text = fit(&markdown, 0);
        assert!(text.len() <= STEP_SUMMARY_LIMIT, "{}", text.len());
        assert!(text.len() > STEP_SUMMARY_LIMIT - 2_000);
        assert!(text.ends_with(&format!("a\n\n{SUMMARY_CUT_NOTE}\n")));
    }

    #[test]
    fn the_room_already_used_counts_and_characters_stay_whole() {
        let markdown = "é".repeat(STEP_SUMMARY_LIMIT);
        let text = fit(&markdown, 1_000);
        assert!(text.len() <= STEP_SUMMARY_LIMIT - 1_000);
        assert!(text.contains(SUMMARY_CUT_NOTE));
        assert_eq!(
            fit("anything longer than the room", STEP_SUMMARY_LIMIT - 3),
            ""
        );
    }

    #[test]
    fn appending_cuts_to_what_the_file_has_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        std::fs::write(&path, "y".repeat(STEP_SUMMARY_LIMIT - 100)).unwrap();
        assert!(append(&path, &"z\n".repeat(1_000)).unwrap());
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len <= STEP_SUMMARY_LIMIT as u64, "{len}");
        let fresh = dir.path().join("fresh.md");
        assert_eq!(room(&fresh).unwrap(), STEP_SUMMARY_LIMIT);
        assert!(!append(&fresh, "# ok\n").unwrap());
        assert_eq!(room(&fresh).unwrap(), STEP_SUMMARY_LIMIT - 5);
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "# ok\n");
    }
}
