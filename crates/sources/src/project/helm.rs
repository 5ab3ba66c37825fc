//! Helm charts: which directories hold a chart (a `Chart.yaml`), the chart's `appVersion`
//! (the tag chart templates commonly fall back to, `{{ .Values.image.tag | default
//! .Chart.AppVersion }}`), and which files of a chart are its values and its templates.

use std::collections::HashMap;
use std::path::Path;

use crate::yaml::tree;
use crate::{SourceFile, SourceKind};

/// The charts of a tree, by directory (`rel`, `""` at the root).
#[derive(Debug, Clone, Default)]
pub(crate) struct Charts {
    by_dir: HashMap<String, Chart>,
}

/// What portcullis needs from one `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Chart {
    /// `appVersion`, as written (a number such as `1.27` keeps its text).
    pub(crate) app_version: Option<String>,
}

impl Charts {
    /// Reads the `Chart.yaml` among `files`. One that cannot be read or parsed names no
    /// `appVersion`; its own parse (it is a discovered YAML file) reports why.
    pub(crate) fn read(files: &[SourceFile]) -> Self {
        let mut by_dir = HashMap::new();
        for file in files {
            let name = file.path.file_name().and_then(|n| n.to_str());
            if !matches!(name, Some("Chart.yaml" | "Chart.yml")) {
                continue;
            }
            let chart = std::fs::read_to_string(&file.path)
                .ok()
                .map(|text| parse_chart(&text))
                .unwrap_or_default();
            by_dir.insert(super::dir_of(&file.rel).to_owned(), chart);
        }
        Self { by_dir }
    }

    /// The chart the file `rel` belongs to (the nearest directory above it with a
    /// `Chart.yaml`), and `rel` relative to the chart's directory.
    pub(crate) fn chart_of<'r>(&self, rel: &'r str) -> Option<(&Chart, &'r str)> {
        if self.by_dir.is_empty() {
            return None;
        }
        let mut dir = rel;
        loop {
            dir = super::dir_of(dir);
            if let Some(chart) = self.by_dir.get(dir) {
                let inside = if dir.is_empty() {
                    rel
                } else {
                    &rel[dir.len() + 1..]
                };
                return Some((chart, inside));
            }
            if dir.is_empty() {
                return None;
            }
        }
    }

    /// The kind a YAML file inside a chart is read as: `values*.yaml` beside `Chart.yaml`
    /// are values, everything under `templates/` is a template.
    pub(crate) fn kind_of(&self, file: &SourceFile) -> Option<SourceKind> {
        if file.kind != SourceKind::Kubernetes {
            return None;
        }
        let (_, inside) = self.chart_of(&file.rel)?;
        let mut parts = inside.split('/');
        let first = parts.next()?;
        if first == "templates" {
            return Some(SourceKind::HelmTemplate);
        }
        let lower = first.to_ascii_lowercase();
        let values = parts.next().is_none()
            && lower.starts_with("values")
            && matches!(
                Path::new(&lower).extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            );
        values.then_some(SourceKind::HelmValues)
    }
}

/// `appVersion` of a `Chart.yaml` text.
fn parse_chart(text: &str) -> Chart {
    let docs = tree::parse_documents(text.strip_prefix('\u{feff}').unwrap_or(text));
    let app_version = docs.ok().and_then(|docs| {
        let scalar = docs.first()?.get("appVersion")?.scalar()?;
        (!scalar.is_null() && !scalar.value.is_empty()).then(|| scalar.value.clone())
    });
    Chart { app_version }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> SourceFile {
        SourceFile {
            path: std::path::PathBuf::from("/repo").join(path),
            rel: path.to_owned(),
            kind: SourceKind::Kubernetes,
        }
    }

    #[test]
    fn app_version_is_read_as_written() {
        assert_eq!(
            parse_chart("apiVersion: v2\nname: web\nappVersion: \"1.27.1\"\n").app_version,
            Some("1.27.1".to_owned())
        );
        assert_eq!(
            parse_chart("appVersion: 1.10\n").app_version,
            Some("1.10".to_owned())
        );
        assert_eq!(parse_chart("name: web\n").app_version, None);
        assert_eq!(parse_chart("appVersion:\n").app_version, None);
        assert_eq!(parse_chart("a: [\n").app_version, None);
    }

    #[test]
    fn values_and_templates_of_the_nearest_chart() {
        let mut charts = Charts::default();
        for dir in ["charts/web", "charts/web/charts/db"] {
            charts.by_dir.insert(dir.to_owned(), Chart::default());
        }
        let kind = |p: &str| charts.kind_of(&file(p));
        assert_eq!(kind("charts/web/values.yaml"), Some(SourceKind::HelmValues));
        assert_eq!(
            kind("charts/web/values-prod.yml"),
            Some(SourceKind::HelmValues)
        );
        assert_eq!(
            kind("charts/web/templates/deploy.yaml"),
            Some(SourceKind::HelmTemplate)
        );
        assert_eq!(
            kind("charts/web/templates/sub/job.yaml"),
            Some(SourceKind::HelmTemplate)
        );
        assert_eq!(
            kind("charts/web/charts/db/values.yaml"),
            Some(SourceKind::HelmValues)
        );
        assert_eq!(kind("charts/web/ci/values.yaml"), None);
        assert_eq!(kind("charts/web/Chart.yaml"), None);
        assert_eq!(kind("other/values.yaml"), None);
    }
}
