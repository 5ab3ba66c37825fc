//! `Client::pins` against a real Distribution registry: which digest `pin` writes for a tag
//! that moved, a platform pin, a platform the tag no longer has, `--platform-pins index`,
//! and the requests each costs.

mod common;

use std::collections::BTreeMap;

use common::{client_for, image, manifest_requests};
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{PinChoice, Platform, PlatformPins};
use portcullis_testkit::{Auth, Registry};

struct Seeded {
    registry: Registry,
    old_index: Digest,
    old_children: Vec<Digest>,
    new_index: Digest,
    new_children: Vec<Digest>,
    /// The only manifest of an s390x-only index in the same repository.
    s390x: Digest,
}

/// `base:3.20` moved from one amd64 + arm64 index to another.
fn seeded() -> Seeded {
    let registry = Registry::start(Auth::Token {
        user: "ci".into(),
        password: "pw".into(),
    })
    .unwrap();
    let platforms = [("linux", "amd64", None), ("linux", "arm64", Some("v8"))];
    let (old_index, old_children) = registry.seed_index("base", "3.20", &platforms).unwrap();
    let (new_index, new_children) = registry.seed_index("base", "next", &platforms).unwrap();
    registry.retag("base", "3.20", &new_index).unwrap();
    let (_, s390x) = registry
        .seed_index("base", "3.19", &[("linux", "s390x", None)])
        .unwrap();
    Seeded {
        registry,
        old_index,
        old_children,
        new_index,
        new_children,
        s390x: s390x[0].clone(),
    }
}

fn digest(choice: &PinChoice) -> Option<&Digest> {
    match choice {
        PinChoice::Digest(digest) => Some(digest),
        _ => None,
    }
}

struct Case {
    base: ImageRef,
    images: Vec<ImageRef>,
}

impl Case {
    fn new(s: &Seeded) -> Self {
        let base = image(&s.registry, "base", "3.20");
        let pin = |d: &Digest| base.with_digest(d.clone());
        let images = vec![
            base.clone(),
            pin(&s.new_index),
            pin(&s.new_children[0]),
            pin(&s.old_children[1]),
            pin(&s.old_index),
            pin(&s.s390x),
            pin(&Digest::sha256(b"no such manifest")),
            base.without_tag(), // `latest`, which does not exist
        ];
        Self { base, images }
    }

    fn pin(&self, n: usize) -> &ImageRef {
        &self.images[n]
    }
}

#[tokio::test]
async fn keep_mode_moves_platform_pins_to_the_same_platform_of_the_current_index() {
    let s = seeded();
    let case = Case::new(&s);
    let client = client_for(&s.registry);
    let choices: BTreeMap<ImageRef, PinChoice> =
        client.pins(&case.images, PlatformPins::Keep).await;
    assert_eq!(choices.len(), case.images.len());

    assert_eq!(digest(&choices[&case.base]), Some(&s.new_index));
    assert_eq!(
        digest(&choices[case.pin(1)]),
        Some(&s.new_index),
        "up to date"
    );
    assert_eq!(
        digest(&choices[case.pin(2)]),
        Some(&s.new_children[0]),
        "a platform of the current index is kept"
    );
    assert_eq!(
        digest(&choices[case.pin(3)]),
        Some(&s.new_children[1]),
        "the old index's arm64 manifest moves to the current arm64 manifest"
    );
    assert_eq!(
        digest(&choices[case.pin(4)]),
        Some(&s.new_index),
        "an older index moves to the current index"
    );
    let gone = &choices[case.pin(5)];
    assert!(
        matches!(gone, PinChoice::PlatformGone { platform } if Some(platform) == Platform::parse("linux/s390x").as_ref()),
        "{gone:?}"
    );
    assert!(
        matches!(choices[case.pin(6)], PinChoice::PinnedNotFound),
        "{:?}",
        choices[case.pin(6)]
    );
    assert!(
        matches!(choices[case.pin(7)], PinChoice::TagNotFound),
        "{:?}",
        choices[case.pin(7)]
    );

    // One HEAD per tag, the current index once, each foreign pin read once (the manifest,
    // then its config blob for its platform), one token for the repository.
    let mut expected = vec![
        "HEAD /v2/base/manifests/3.20".to_owned(),
        "HEAD /v2/base/manifests/latest".to_owned(),
        format!("GET /v2/base/manifests/{}", s.new_index),
        format!("GET /v2/base/manifests/{}", s.old_children[1]),
        format!("GET /v2/base/manifests/{}", s.old_index),
        format!("GET /v2/base/manifests/{}", s.s390x),
        format!(
            "GET /v2/base/manifests/{}",
            Digest::sha256(b"no such manifest")
        ),
    ];
    expected.sort();
    assert_eq!(manifest_requests(&s.registry), expected);
    let stats = client.stats();
    assert_eq!(stats.manifest_requests, 7);
    assert_eq!(
        stats.blob_requests, 2,
        "configs of the two platform manifests"
    );
    assert_eq!(stats.token_requests, 1);
}

#[tokio::test]
async fn index_mode_writes_the_index_digest_with_one_head_per_tag() {
    let s = seeded();
    let case = Case::new(&s);
    let client = client_for(&s.registry);
    let choices = client.pins(&case.images, PlatformPins::Index).await;
    for n in 0..7 {
        assert_eq!(
            digest(&choices[case.pin(n)]),
            Some(&s.new_index),
            "{}",
            case.pin(n)
        );
    }
    assert!(matches!(choices[case.pin(7)], PinChoice::TagNotFound));
    assert_eq!(
        manifest_requests(&s.registry),
        [
            "HEAD /v2/base/manifests/3.20".to_owned(),
            "HEAD /v2/base/manifests/latest".to_owned(),
        ]
    );
    let stats = client.stats();
    assert_eq!((stats.manifest_requests, stats.blob_requests), (2, 0));
    assert_eq!(stats.token_requests, 1);
}

/// Many references to a few tags cost one HEAD per tag and one token per repository, as
/// `pin` on a monorepo needs.
#[tokio::test]
async fn many_references_one_request_per_tag() {
    let s = seeded();
    let base = image(&s.registry, "base", "3.20");
    let mut images = Vec::new();
    for _ in 0..20 {
        images.push(base.clone());
        images.push(base.with_digest(s.new_index.clone()));
        images.push(image(&s.registry, "base", "next"));
    }
    let client = client_for(&s.registry);
    let choices = client.pins(&images, PlatformPins::Keep).await;
    assert_eq!(choices.len(), 3);
    assert!(choices.values().all(|c| digest(c) == Some(&s.new_index)));
    let stats = client.stats();
    assert_eq!((stats.manifest_requests, stats.token_requests), (2, 1));
}
