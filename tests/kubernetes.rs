//! `portcullis pin` and `check` on a kustomize tree against a real Distribution registry:
//! the digest goes into the kustomization's `images:` entry, not the base it overrides.

mod common;

use std::path::Path;

use common::{assert_exit, run_in, skopeo_digest, stderr, stdout};
use portcullis_testkit::{Auth, ImageSpec, Registry};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

#[test]
fn pin_writes_the_digest_into_the_kustomization_entry() {
    let registry = Registry::start(Auth::None).expect("registry starts");
    registry
        .seed_image("team/app", "2.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let deploy = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {host}/team/app:1.0\n"
    );
    write(d, "base/deploy.yaml", &deploy);
    write(d, "base/kustomization.yaml", "resources:\n- deploy.yaml\n");
    write(
        d,
        "overlays/prod/kustomization.yaml",
        &format!(
            "resources:\n- ../../base\nimages:\n- name: {host}/team/app\n  newTag: \"2.0\" # release\n"
        ),
    );

    // Unpinned: reported at the entry and at the overridden base line, as the image deployed.
    let out = run_in(d, &["check", "-f", "json"]);
    assert_exit(&out, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let images: Vec<(String, u64, String)> = json["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["file"].as_str().unwrap().to_owned(),
                i["line"].as_u64().unwrap(),
                i["context"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            (
                "base/deploy.yaml".to_owned(),
                10,
                "kubernetes-container".to_owned()
            ),
            (
                "overlays/prod/kustomization.yaml".to_owned(),
                5,
                "kustomize-image".to_owned()
            ),
        ]
    );

    let out = run_in(d, &["pin"]);
    assert_exit(&out, 0);
    let digest = skopeo_digest(&format!("{host}/team/app:2.0"));
    assert_eq!(
        read(d, "overlays/prod/kustomization.yaml"),
        format!(
            "resources:\n- ../../base\nimages:\n- name: {host}/team/app\n  newTag: \"2.0\" # release\n  digest: {digest}\n"
        )
    );
    assert_eq!(read(d, "base/deploy.yaml"), deploy, "{}", stderr(&out));

    // Pinned where kustomize decides the image, the tree passes.
    let out = run_in(d, &["check"]);
    assert_exit(&out, 0);
}
