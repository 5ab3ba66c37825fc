//! Kustomizations, custom resources and Helm charts, end to end through `collect` and the
//! `pin` edits on real trees.

use std::path::Path;

use portcullis_reference::Digest;
use portcullis_sources::{
    apply, collect, pin_edits, pin_targets, Collected, DiscoverOptions, NotCheckedReason,
    ParseOptions, SkipReason,
};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, Collected) {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        write(dir.path(), rel, text);
    }
    let collected = collect(
        dir.path(),
        &DiscoverOptions::default(),
        &ParseOptions::default(),
    )
    .unwrap();
    (dir, collected)
}

/// `file:line context image literal?` per occurrence.
fn seen(collected: &Collected) -> Vec<String> {
    collected
        .occurrences
        .iter()
        .map(|o| {
            let image = o
                .resolution
                .image()
                .map_or_else(|| format!("{:?}", o.resolution), ToString::to_string);
            format!(
                "{}:{} {} {image}{}",
                o.location.file,
                o.location.line,
                o.context,
                if o.literal.is_some() {
                    ""
                } else {
                    " (no literal)"
                }
            )
        })
        .collect()
}

fn digest() -> Digest {
    Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap()
}

/// Every file after pinning every target to [`digest`].
fn pinned(dir: &Path, collected: &Collected) -> Vec<(String, String)> {
    let split = pin_targets(&collected.occurrences);
    let d = digest();
    pin_edits(split.targets.iter().map(|t| (t, &d)))
        .into_iter()
        .map(|(file, edits)| {
            let path = dir.join(&file);
            let before = std::fs::read(&path).unwrap();
            let after = apply(&path, &before, &edits).unwrap();
            (file, String::from_utf8(after).unwrap())
        })
        .collect()
}

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n      - name: side\n        image: busybox:1.36\n";

#[test]
fn kustomization_images_are_reported_at_the_entry_and_override_the_resources() {
    let (dir, collected) = tree(&[
        ("base/deploy.yaml", DEPLOY),
        ("base/kustomization.yaml", "resources:\n- deploy.yaml\n"),
        (
            "overlays/prod/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\nimages:\n- name: nginx\n  newName: ghcr.io/acme/nginx\n  newTag: \"1.27\"\n- name: redis\n  digest: sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n- name: only-renamed\n  newName: x/y\n",
        ),
    ]);
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    let b = "b".repeat(64);
    assert_eq!(
        seen(&collected),
        [
            // Overridden: the image kustomize deploys, and `pin` leaves the file alone.
            "base/deploy.yaml:10 kubernetes-container ghcr.io/acme/nginx:1.27 (no literal)".to_owned(),
            "base/deploy.yaml:12 kubernetes-container docker.io/library/busybox:1.36".to_owned(),
            "overlays/prod/kustomization.yaml:8 kustomize-image ghcr.io/acme/nginx:1.27".to_owned(),
            format!("overlays/prod/kustomization.yaml:9 kustomize-image docker.io/library/redis@sha256:{b}"),
        ]
    );
    let split = pin_targets(&collected.occurrences);
    assert!(matches!(
        split.skipped[0].reason,
        SkipReason::NotWrittenHere { .. }
    ));
    let files = pinned(dir.path(), &collected);
    let a = "a".repeat(64);
    let kustomization = &files
        .iter()
        .find(|(f, _)| f == "overlays/prod/kustomization.yaml")
        .unwrap()
        .1;
    assert!(
        kustomization.contains(&format!(
            "- name: nginx\n  newName: ghcr.io/acme/nginx\n  newTag: \"1.27\"\n  digest: sha256:{a}\n- name: redis\n  digest: sha256:{a}\n"
        )),
        "{kustomization}"
    );
    // The deployment's own busybox is pinned in place; its overridden nginx is not.
    let deploy = &files
        .iter()
        .find(|(f, _)| f == "base/deploy.yaml")
        .unwrap()
        .1;
    assert!(deploy.contains("image: nginx:1.25\n"), "{deploy}");
    assert!(
        deploy.contains(&format!("image: busybox:1.36@sha256:{a}\n")),
        "{deploy}"
    );
}

#[test]
fn a_base_used_by_two_overlays_deploys_one_image_per_overlay() {
    let (_dir, collected) = tree(&[
        ("base/deploy.yaml", DEPLOY),
        ("base/kustomization.yml", "resources: [deploy.yaml]\n"),
        ("dev/Kustomization", "resources: [../base]\n"),
        (
            "prod/kustomization.yaml",
            "resources: [../base]\nimages:\n- name: nginx\n  newTag: 1.27.1\n",
        ),
    ]);
    let deploy: Vec<String> = seen(&collected)
        .into_iter()
        .filter(|s| s.starts_with("base/deploy.yaml:10"))
        .collect();
    assert_eq!(
        deploy,
        [
            "base/deploy.yaml:10 kubernetes-container docker.io/library/nginx:1.25",
            "base/deploy.yaml:10 kubernetes-container docker.io/library/nginx:1.27.1 (no literal)",
        ]
    );
}

#[test]
fn custom_resources_name_images_in_any_image_field_but_not_in_other_values() {
    let (_dir, collected) = tree(&[(
        "monitoring/prometheus.yaml",
        "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata:\n  name: k8s\nspec:\n  image: quay.io/prometheus/prometheus:v2.54.1\n  thanos:\n    image: \"quay.io/thanos/thanos:v0.36.1\"\n  containers:\n  - name: config-reloader\n    image: quay.io/prometheus-operator/prometheus-config-reloader:v0.76.0\n  web:\n    image: /static/logo.png\n  branding:\n    image: \"\"\n  other:\n    image: https://example.com/x.png\n  templated:\n    image: \"{{ .Values.image }}\"\n---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout\nspec:\n  template:\n    spec:\n      containers:\n      - image: nginx:1.27\n---\napiVersion: v1\nkind: ConfigMap\ndata:\n  image: not-an-image-here\n",
    )]);
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        seen(&collected),
        [
            "monitoring/prometheus.yaml:6 kubernetes-image quay.io/prometheus/prometheus:v2.54.1",
            "monitoring/prometheus.yaml:8 kubernetes-image quay.io/thanos/thanos:v0.36.1",
            "monitoring/prometheus.yaml:11 kubernetes-image quay.io/prometheus-operator/prometheus-config-reloader:v0.76.0",
            // A CR's pod spec keeps its container context.
            "monitoring/prometheus.yaml:27 kubernetes-container docker.io/library/nginx:1.27",
        ]
    );
}

const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"1.27.0\"\n";

#[test]
fn helm_values_image_maps_and_strings_with_app_version_as_the_default_tag() {
    let (dir, collected) = tree(&[
        ("charts/web/Chart.yaml", CHART),
        (
            "charts/web/values.yaml",
            "image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: \"\"\n  digest: \"\"\n  pullPolicy: IfNotPresent\nmetrics:\n  exporterImage:\n    repository: nginx/nginx-prometheus-exporter\n    tag: 1.3.0\nsidecars:\n- name: log\n  image: busybox:1.36\nlogo:\n  image: /img/logo.png\n",
        ),
        (
            "charts/web/templates/deployment.yaml",
            "spec:\n  containers:\n  - image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n",
        ),
        ("charts/web/templates/NOTES.txt", "hello\n"),
    ]);
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(
        seen(&collected),
        [
            "charts/web/values.yaml:3 helm-values docker.io/bitnami/nginx:1.27.0",
            "charts/web/values.yaml:10 helm-values docker.io/nginx/nginx-prometheus-exporter:1.3.0",
            "charts/web/values.yaml:13 helm-values docker.io/library/busybox:1.36",
        ]
    );
    let not_checked: Vec<(&str, NotCheckedReason)> = collected
        .not_checked
        .iter()
        .map(|n| (n.file.as_str(), n.reason))
        .collect();
    assert_eq!(
        not_checked,
        [(
            "charts/web/templates/deployment.yaml",
            NotCheckedReason::HelmTemplate
        )]
    );
    let a = "a".repeat(64);
    let files = pinned(dir.path(), &collected);
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].1,
        format!("image:\n  registry: docker.io\n  repository: bitnami/nginx\n  tag: \"\"\n  digest: \"sha256:{a}\"\n  pullPolicy: IfNotPresent\nmetrics:\n  exporterImage:\n    repository: nginx/nginx-prometheus-exporter\n    tag: 1.3.0\n    digest: sha256:{a}\nsidecars:\n- name: log\n  image: busybox:1.36@sha256:{a}\nlogo:\n  image: /img/logo.png\n")
    );
}

#[test]
fn values_outside_a_chart_are_plain_yaml_and_broken_templates_are_listed() {
    let (_dir, collected) = tree(&[
        (
            "config/values.yaml",
            "image:\n  repository: nginx\n  tag: \"1.27\"\n",
        ),
        (
            "deploy/job.yaml",
            "apiVersion: batch/v1\nkind: Job\nspec:\n{{- if .x }}\n  template: {}\n",
        ),
    ]);
    assert!(collected.occurrences.is_empty(), "{:?}", seen(&collected));
    assert!(collected.problems.is_empty(), "{:?}", collected.problems);
    assert_eq!(collected.not_checked.len(), 1);
    assert_eq!(collected.not_checked[0].file, "deploy/job.yaml");
    assert_eq!(collected.not_checked[0].reason, NotCheckedReason::Template);
}

#[test]
fn bad_kustomization_entries_are_problems_naming_the_entry() {
    let (_dir, collected) = tree(&[(
        "kustomization.yaml",
        "images:\n- newTag: \"1.0\"\n- name: app\n  newTag: \"bad tag\"\n",
    )]);
    assert!(collected.occurrences.is_empty());
    let messages: Vec<(Option<u32>, &str)> = collected
        .problems
        .iter()
        .map(|p| (p.line, p.message.as_str()))
        .collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0].0, Some(2));
    assert!(messages[0]
        .1
        .contains("`images[0]` sets `newTag` or `digest` but has no `name`"));
    assert_eq!(messages[1].0, Some(4));
    assert!(
        messages[1].1.starts_with("`images[1].newTag`"),
        "{messages:?}"
    );
}
