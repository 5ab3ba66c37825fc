//! `Client::facts` against a real Distribution registry: a tag that moved, a pinned digest
//! that does not exist, failures kept apart from "not found", and the requests it costs.

mod common;

use common::{client_for, image, manifest_requests};
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{Client, Depth, ImageFacts, PinnedFact, RegistryError, TagFact};
use portcullis_testkit::{Auth, ImageSpec, Registry};

struct Seeded {
    registry: Registry,
    old_index: Digest,
    new_index: Digest,
    new_children: Vec<Digest>,
    app: Digest,
}

/// `base:3.20` moved from one two-platform index to another; `app:1.0` is one image.
fn seeded(auth: Auth) -> Seeded {
    let registry = Registry::start(auth).unwrap();
    let platforms = [("linux", "amd64", None), ("linux", "arm64", Some("v8"))];
    let (old_index, _) = registry.seed_index("base", "3.20", &platforms).unwrap();
    let (new_index, new_children) = registry.seed_index("base", "next", &platforms).unwrap();
    registry.retag("base", "3.20", &new_index).unwrap();
    let app = registry
        .seed_image("app", "1.0", &ImageSpec::new("linux", "amd64"))
        .unwrap();
    Seeded {
        registry,
        old_index,
        new_index,
        new_children,
        app,
    }
}

fn at(image: &ImageRef, digest: &Digest) -> ImageRef {
    image.with_digest(digest.clone())
}

fn tag_digest(facts: &ImageFacts) -> Option<&Digest> {
    facts.resolved().map(|r| &r.digest)
}

#[tokio::test]
async fn stale_tags_missing_pins_and_the_requests_they_cost() {
    let s = seeded(Auth::Token {
        user: "ci".into(),
        password: "pw".into(),
    });
    let (base, app) = (
        image(&s.registry, "base", "3.20"),
        image(&s.registry, "app", "1.0"),
    );
    let missing = Digest::sha256(b"no such manifest");
    let digest_only = at(&app.without_tag(), &s.app);
    let images = [
        base.clone(),
        at(&base, &s.old_index),       // the tag moved on
        at(&base, &s.new_children[1]), // a platform of the current index
        at(&app, &missing),
        image(&s.registry, "app", "9.9"),
        digest_only.clone(),
        base.clone(), // duplicates cost nothing
    ];
    let client = client_for(&s.registry);
    let facts = client.facts(&images, Depth::Pinned).await;
    assert_eq!(facts.len(), 6);

    let unpinned = &facts[&base];
    assert_eq!(tag_digest(unpinned), Some(&s.new_index));
    assert!(unpinned.pinned.is_none());

    // Stale: the tag points elsewhere, the pin still exists and is none of its platforms.
    let stale = &facts[&at(&base, &s.old_index)];
    let resolved = stale.resolved().unwrap();
    assert_eq!(resolved.digest, s.new_index);
    let platforms: Vec<&Digest> = resolved.platforms.iter().map(|p| &p.digest).collect();
    assert_eq!(platforms, s.new_children.iter().collect::<Vec<_>>());
    assert!(matches!(stale.pinned, Some(PinnedFact::Exists)));

    let platform_pin = &facts[&at(&base, &s.new_children[1])];
    assert!(matches!(platform_pin.pinned, Some(PinnedFact::Exists)));

    let gone = &facts[&at(&app, &missing)];
    assert_eq!(tag_digest(gone), Some(&s.app));
    assert!(matches!(gone.pinned, Some(PinnedFact::Missing)), "{gone:?}");

    let no_tag = &facts[&image(&s.registry, "app", "9.9")];
    assert!(matches!(no_tag.tag, Some(TagFact::NotFound)), "{no_tag:?}");
    assert_eq!(no_tag.failures().count(), 0, "not found is not a failure");

    let by_digest = &facts[&digest_only];
    assert!(by_digest.tag.is_none());
    assert!(matches!(by_digest.pinned, Some(PinnedFact::Exists)));

    // One HEAD per tag, the index read once (for the stale pin; the platform pin is known
    // from it), one HEAD per pin that is neither the tag nor one of its platforms.
    let mut expected = vec![
        "HEAD /v2/base/manifests/3.20".to_owned(),
        "HEAD /v2/app/manifests/1.0".to_owned(),
        "HEAD /v2/app/manifests/9.9".to_owned(),
        format!("GET /v2/base/manifests/{}", s.new_index),
        format!("HEAD /v2/base/manifests/{}", s.old_index),
        format!("HEAD /v2/app/manifests/{missing}"),
        format!("HEAD /v2/app/manifests/{}", s.app),
    ];
    expected.sort();
    assert_eq!(manifest_requests(&s.registry), expected);
    let stats = client.stats();
    assert_eq!(stats.manifest_requests, 7);
    assert_eq!(stats.token_requests, 2, "one token per repository");
    assert_eq!(s.registry.token_requests().len(), 2);
}

#[tokio::test]
async fn shallower_depths_ask_less() {
    let s = seeded(Auth::None);
    let base = image(&s.registry, "base", "3.20");
    let images = [at(&base, &s.old_index), at(&base, &s.new_children[0])];

    let client = client_for(&s.registry);
    let facts = client.facts(&images, Depth::Tags).await;
    let stale = &facts[&images[0]];
    assert_eq!(tag_digest(stale), Some(&s.new_index));
    assert!(stale.resolved().unwrap().platforms.is_empty());
    assert!(stale.pinned.is_none());
    assert_eq!(client.stats().manifest_requests, 1, "one HEAD");

    let client = client_for(&s.registry);
    let facts = client.facts(&images, Depth::Platforms).await;
    assert_eq!(facts[&images[1]].resolved().unwrap().platforms.len(), 2);
    assert!(facts[&images[1]].pinned.is_none());
    assert_eq!(
        client.stats().manifest_requests,
        2,
        "HEAD + GET of the index"
    );
}

#[tokio::test]
async fn pins_to_the_tag_itself_read_nothing_more() {
    let s = seeded(Auth::None);
    let base = image(&s.registry, "base", "3.20");
    let client = client_for(&s.registry);
    let facts = client
        .facts(&[at(&base, &s.new_index)], Depth::Pinned)
        .await;
    assert!(matches!(
        facts[&at(&base, &s.new_index)].pinned,
        Some(PinnedFact::Exists)
    ));
    assert_eq!(client.stats().manifest_requests, 1);
}

/// A refused login is a failure kept with the reference, never mistaken for "not found"
/// (which `check` would read as a missing image).
#[tokio::test]
async fn failures_are_typed_and_not_not_found() {
    let s = seeded(Auth::Htpasswd {
        user: "ci".into(),
        password: "pw".into(),
    });
    let app = image(&s.registry, "app", "1.0");
    let pinned = at(&app, &s.app);
    let client =
        Client::with_keychain(common::options(), portcullis_registry::Keychain::empty()).unwrap();
    let facts = client
        .facts(std::slice::from_ref(&pinned), Depth::Pinned)
        .await;
    let fact = &facts[&pinned];
    assert!(
        matches!(&fact.tag, Some(TagFact::Failed(e)) if matches!(**e, RegistryError::Unauthorized { .. })),
        "{fact:?}"
    );
    assert!(
        matches!(fact.pinned, Some(PinnedFact::Failed(_))),
        "{fact:?}"
    );
    assert_eq!(fact.failures().count(), 2);
}
