//! Words for the commands that `help:` lines tell the user to run: a file name typed into a
//! POSIX shell must reach the command as that one argument, whatever it holds (spaces,
//! quotes, `$`, globs, a leading `-`).

use std::borrow::Cow;

/// `word` quoted for a POSIX shell, so that `sh` reads it back as exactly one argument with
/// exactly these characters, never expanded and never taken for an option.
///
/// Words of only safe characters stay as they are (`services/web/Dockerfile`); anything else
/// is single-quoted, with each `'` written as `'\''`. A word starting with `-` is a path
/// here, so it becomes `./-…` rather than an option; the empty word is `''`.
#[must_use]
pub fn quote_path(word: &str) -> Cow<'_, str> {
    let word: Cow<'_, str> = if word.starts_with('-') {
        Cow::Owned(format!("./{word}"))
    } else {
        Cow::Borrowed(word)
    };
    if !word.is_empty() && word.chars().all(is_safe) && !word.starts_with('~') {
        return word;
    }
    let mut quoted = String::with_capacity(word.len() + 2);
    quoted.push('\'');
    for c in word.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    Cow::Owned(quoted)
}

/// Characters no POSIX shell treats specially anywhere in a word (`~` only at its start,
/// checked apart; `=` only before a command name, which a path argument never is).
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '/' | '.' | '_' | '-' | '+' | ',' | ':' | '@' | '%' | '=' | '~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_stay_as_they_are() {
        for path in [
            "Dockerfile",
            "services/web/Dockerfile",
            "../x/compose.yaml",
            "a-b_c.d/e+f,g:h@i%j=k/x~y",
        ] {
            assert_eq!(quote_path(path), path);
        }
    }

    #[test]
    fn hostile_paths_are_single_quoted() {
        assert_eq!(quote_path("my app/Dockerfile"), "'my app/Dockerfile'");
        assert_eq!(quote_path("it's/Dockerfile"), r"'it'\''s/Dockerfile'");
        assert_eq!(quote_path("$HOME/Dockerfile"), "'$HOME/Dockerfile'");
        assert_eq!(quote_path("*/Dockerfile"), "'*/Dockerfile'");
        assert_eq!(quote_path("~root/Dockerfile"), "'~root/Dockerfile'");
        assert_eq!(quote_path("a\nb"), "'a\nb'");
        assert_eq!(quote_path(""), "''");
    }

    #[test]
    fn a_leading_dash_is_never_an_option() {
        assert_eq!(quote_path("-rf/Dockerfile"), "./-rf/Dockerfile");
        assert_eq!(quote_path("--help"), "./--help");
        assert_eq!(quote_path("-x y"), "'./-x y'");
    }

    /// What `sh` makes of the quoted word must be the word itself: one argument, unchanged.
    #[test]
    fn sh_reads_every_quoted_word_back_unchanged() {
        let words = [
            "plain/Dockerfile",
            "with space/Dockerfile",
            "quote'in/Dockerfile",
            "double\"quote/Dockerfile",
            "$HOME/${PATH}/$(id)/`id`",
            "*/?/[ab]/{a,b}/Dockerfile",
            "~/Dockerfile",
            "back\\slash",
            "semi;colon & amp | pipe > redirect < in",
            "#hash/Dockerfile",
            "!bang",
            "tab\there",
            "new\nline",
            "ünïcödé/Dockerfile",
            "a=b",
            "'",
            "''",
        ];
        let mut script = String::from("printf '%s\\0' ");
        for word in words {
            script.push_str(&quote_path(word));
            script.push(' ');
        }
        let output = std::process::Command::new("sh")
            .args(["-c", &script])
            .env("HOME", "/home/nobody")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        let read: Vec<&str> = std::str::from_utf8(&output.stdout)
            .unwrap()
            .split_terminator('\0')
            .collect();
        assert_eq!(read, words);
    }
}
