//! What the policy judges: a [`Subject`] is an image (or a reference that could not be
//! resolved) and, when it was written in a file, where. An image that is in no file — a
//! mirror source, a promoted image, a stale image, a scanned image — is a subject too, and
//! the same rules apply to it.

use portcullis_reference::{Context, ImageRef, Location, Resolution};

/// Where a subject is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub location: Location,
    pub context: Context,
}

/// An image to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The image, or the variable that kept the text from naming one.
    pub resolution: Resolution,
    /// The reference as written (or as given).
    pub text: String,
    /// Where it is written, if anywhere.
    pub written: Option<Written>,
}

impl Subject {
    /// An image given by name only (a command-line argument, a mirror source).
    #[must_use]
    pub fn image(image: ImageRef) -> Self {
        Self {
            text: image.to_string(),
            resolution: Resolution::Image(image),
            written: None,
        }
    }

    /// A reference written in a file.
    #[must_use]
    pub fn written(
        resolution: Resolution,
        text: String,
        location: Location,
        context: Context,
    ) -> Self {
        Self {
            resolution,
            text,
            written: Some(Written { location, context }),
        }
    }
}

/// How `help:` lines name files: from the directory the user stands in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelpPaths {
    /// The current directory relative to the repository root (`/`-separated, empty at the
    /// root). Report paths are relative to the root; commands in `help:` are typed here.
    pub cwd: String,
}

impl HelpPaths {
    /// A report path as a command typed in the current directory names it: relative to
    /// that directory, and quoted for a POSIX shell ([`crate::shell::quote_path`]).
    #[must_use]
    pub fn command_path(&self, file: &str) -> String {
        crate::shell::quote_path(&portcullis_reference::source::relative(&self.cwd, file))
            .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_paths_name_files_from_the_current_directory() {
        let at_root = HelpPaths::default();
        assert_eq!(
            at_root.command_path("services/web/Dockerfile"),
            "services/web/Dockerfile"
        );
        let inside = HelpPaths {
            cwd: "services".into(),
        };
        assert_eq!(
            inside.command_path("services/web/Dockerfile"),
            "web/Dockerfile"
        );
        assert_eq!(inside.command_path("Dockerfile"), "../Dockerfile");
    }

    #[test]
    fn help_paths_are_quoted_for_the_shell() {
        let at_root = HelpPaths::default();
        assert_eq!(
            at_root.command_path("my app/$x/Dockerfile"),
            "'my app/$x/Dockerfile'"
        );
        assert_eq!(at_root.command_path("-x/Dockerfile"), "./-x/Dockerfile");
        let inside = HelpPaths { cwd: "-x".into() };
        assert_eq!(inside.command_path("-x/Dockerfile"), "Dockerfile");
    }

    #[test]
    fn an_image_given_by_name_has_no_location() {
        let subject = Subject::image(ImageRef::parse("nginx:1.27").unwrap());
        assert_eq!(subject.text, "docker.io/library/nginx:1.27");
        assert!(subject.written.is_none());
    }
}
