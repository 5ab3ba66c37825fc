//! What `check` and `pin` share: the checked root, the policy file and the parsed sources.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use portcullis_policy::Config;
use portcullis_sources::{DiscoverOptions, ParseOptions, Problem, Scan};

use crate::args::SourceArgs;
use crate::exit::UsageError;

/// The sources under the checked paths, with paths relative to `root`.
#[derive(Debug)]
pub struct Workspace {
    /// Directory the reported paths are relative to.
    pub root: PathBuf,
    pub scan: Scan,
}

/// Parses `--build-arg NAME=VALUE` values.
fn build_args(values: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for value in values {
        let Some((name, val)) = value.split_once('=') else {
            return Err(UsageError(format!("`--build-arg {value}` must be `NAME=VALUE`")).into());
        };
        if name.is_empty() {
            return Err(UsageError(format!("`--build-arg {value}` has an empty name")).into());
        }
        out.insert(name.to_owned(), val.to_owned());
    }
    Ok(out)
}

/// `/`-separated display of a relative path.
fn slash(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

impl Workspace {
    /// Discovers and parses the sources under `args.paths`.
    pub fn load(args: &SourceArgs) -> anyhow::Result<Self> {
        let discover = DiscoverOptions {
            exclude: args.exclude.clone(),
        };
        let parse = ParseOptions {
            build_args: build_args(&args.build_args)?,
        };
        let paths: Vec<PathBuf> = if args.paths.is_empty() {
            vec![PathBuf::from(".")]
        } else {
            args.paths.clone()
        };
        for path in &paths {
            if let Err(source) = std::fs::metadata(path) {
                return Err(anyhow::Error::new(source))
                    .context(UsageError(format!("cannot read `{}`", path.display())));
            }
        }
        if let [single] = paths.as_slice() {
            if single.is_dir() {
                let scan = portcullis_sources::scan(single, &discover, &parse)?;
                return Ok(Self {
                    root: single.clone(),
                    scan,
                });
            }
        }
        // Several paths, or a file: report paths relative to the current directory.
        let mut all = Scan::default();
        for path in &paths {
            let scan = portcullis_sources::scan(path, &discover, &parse)?;
            let prefix = if path.is_dir() {
                slash(path)
            } else {
                slash(path.parent().unwrap_or(Path::new("")))
            };
            let join = |rel: &str| {
                if prefix.is_empty() || prefix == "." {
                    rel.to_owned()
                } else {
                    format!("{}/{rel}", prefix.trim_start_matches("./"))
                }
            };
            all.files += scan.files;
            all.occurrences
                .extend(scan.occurrences.into_iter().map(|mut o| {
                    o.location.file = join(&o.location.file);
                    o
                }));
            all.problems.extend(scan.problems.into_iter().map(|mut p| {
                p.file = join(&p.file);
                p
            }));
        }
        all.occurrences.sort_by(|a, b| {
            (&a.location.file, a.location.line, a.location.column).cmp(&(
                &b.location.file,
                b.location.line,
                b.location.column,
            ))
        });
        all.occurrences.dedup();
        Ok(Self {
            root: PathBuf::from("."),
            scan: all,
        })
    }

    /// Absolute-or-relative path of a reported file.
    pub fn path_of(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// Loads `--config`, else the `portcullis.toml` found walking up from the first path, else
/// the embedded default. Findings name the file relative to `root` when it lies below it.
pub fn load_config(
    explicit: Option<&Path>,
    paths: &[PathBuf],
    root: &Path,
) -> anyhow::Result<Config> {
    let path = if let Some(path) = explicit {
        if !path.is_file() {
            return Err(
                UsageError(format!("config file `{}` does not exist", path.display())).into(),
            );
        }
        path.to_path_buf()
    } else {
        let start = paths
            .first()
            .map_or_else(|| PathBuf::from("."), Clone::clone);
        let start = std::fs::canonicalize(&start).unwrap_or(start);
        if let Some(found) = Config::find(&start) {
            found
        } else {
            tracing::info!("no portcullis.toml found; using the embedded default policy");
            return Ok(Config::embedded_default());
        }
    };
    tracing::info!("using policy `{}`", path.display());
    Ok(Config::load_named(&path, &display_name(&path, root))?)
}

/// `path` relative to `root` when it lies below it, else relative to the current directory
/// when below that, else as given.
fn display_name(path: &Path, root: &Path) -> String {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    for base in [
        std::fs::canonicalize(root).ok(),
        std::env::current_dir().ok(),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(rel) = abs.strip_prefix(&base) {
            return slash(rel);
        }
    }
    path.display().to_string()
}

/// Prints per-file problems to stderr. Returns whether there were any.
pub fn print_problems(problems: &[Problem]) -> bool {
    let mut stderr = std::io::stderr().lock();
    for p in problems {
        if p.line.is_none() && p.message.contains(&format!("`{}`", p.file)) {
            let _ = writeln!(stderr, "error: {}", p.message);
            continue;
        }
        let at = match (p.line, p.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", p.file),
            (Some(l), None) => format!("{}:{l}", p.file),
            _ => p.file.clone(),
        };
        let _ = writeln!(stderr, "error: {at}: {}", p.message);
    }
    !problems.is_empty()
}

/// Today's date (UTC), or `PORTCULLIS_TODAY=YYYY-MM-DD` for reproducible runs.
pub fn today() -> anyhow::Result<jiff::civil::Date> {
    if let Ok(text) = std::env::var("PORTCULLIS_TODAY") {
        return text.parse().map_err(|_| {
            UsageError(format!(
                "`PORTCULLIS_TODAY={text}` is not a YYYY-MM-DD date"
            ))
            .into()
        });
    }
    Ok(jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date())
}

/// Writes `bytes` to `path` through a temporary file in the same directory.
/// Devices and pipes (`/dev/null`, `/dev/stdout`) are written directly.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return std::fs::write(path, bytes);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The root as typed, for `help:` commands, or `None` when it is the current directory.
pub fn command_root(root: &Path) -> Option<String> {
    let text = slash(root);
    let text = text.trim_start_matches("./").to_owned();
    (!text.is_empty() && text != ".").then_some(text)
}
