//! The `Progress` observer against a real Distribution registry: every lookup that
//! `Client::pins` and `Client::facts` run is queued, started and finished exactly once, on
//! the registry asked, with failures ("not found" included) passed along.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::{client_for, image};
use portcullis_reference::{Digest, ImageRef};
use portcullis_registry::{Depth, PlatformPins, Progress, RegistryError};
use portcullis_testkit::{Auth, Registry};

#[derive(Default)]
struct Recorded {
    queued: usize,
    started: Vec<ImageRef>,
    /// Each finished lookup, with whether it failed.
    finished: BTreeMap<ImageRef, bool>,
}

#[derive(Default)]
struct Recorder(Mutex<Recorded>);

impl Progress for Recorder {
    fn queued(&self, count: usize) {
        self.0.lock().unwrap().queued += count;
    }

    fn started(&self, image: &ImageRef) {
        self.0.lock().unwrap().started.push(image.clone());
    }

    fn finished(&self, image: &ImageRef, error: Option<&RegistryError>) {
        let mut seen = self.0.lock().unwrap();
        assert!(
            seen.started.contains(image),
            "`{image}` finished before it started"
        );
        seen.finished.insert(image.clone(), error.is_some());
    }
}

fn seeded() -> (Registry, Digest) {
    let registry = Registry::start(Auth::None).unwrap();
    let platforms = [("linux", "amd64", None), ("linux", "arm64", Some("v8"))];
    let (_, children) = registry.seed_index("base", "3.20", &platforms).unwrap();
    registry.seed_index("base", "3.21", &platforms).unwrap();
    (registry, children[0].clone())
}

#[tokio::test]
async fn pins_reports_every_lookup_started_and_finished() {
    let (registry, _) = seeded();
    let recorder = Arc::new(Recorder::default());
    let client = client_for(&registry).with_progress(recorder.clone());
    let tag = image(&registry, "base", "3.20");
    let images = vec![
        tag.clone(),
        tag.clone(), // the same tag twice is one lookup
        image(&registry, "base", "3.21"),
        image(&registry, "base", "gone"),
    ];
    let choices = client.pins(&images, PlatformPins::Index).await;
    assert_eq!(choices.len(), 3);

    let seen = recorder.0.lock().unwrap();
    assert_eq!(seen.queued, 3, "one lookup per unique tag");
    assert_eq!(seen.started.len(), 3);
    assert!(seen
        .started
        .iter()
        .all(|image| image.registry() == registry.host()));
    let failed: Vec<&ImageRef> = seen
        .finished
        .iter()
        .filter_map(|(image, failed)| failed.then_some(image))
        .collect();
    assert_eq!(failed, vec![&image(&registry, "base", "gone")]);
    assert_eq!(seen.finished.len(), 3);
}

#[tokio::test]
async fn facts_reports_the_later_batches_too() {
    let (registry, child) = seeded();
    let recorder = Arc::new(Recorder::default());
    let client = client_for(&registry).with_progress(recorder.clone());
    let tag = image(&registry, "base", "3.21");
    // Pinned to a platform of another tag: the index is read, then the pin is checked.
    let images = vec![
        tag.with_digest(child),
        tag.with_digest(Digest::sha256(b"none")),
    ];
    let facts = client.facts(&images, Depth::Pinned).await;
    assert_eq!(facts.len(), 2);

    let seen = recorder.0.lock().unwrap();
    // The tag's HEAD, its index, and the two pinned digests.
    assert_eq!(seen.queued, 4, "{:?}", seen.started);
    assert_eq!(seen.started.len(), 4);
    assert_eq!(
        seen.finished.len(),
        3,
        "the tag is asked twice: its `HEAD`, then its index"
    );
}

#[tokio::test]
async fn a_client_without_an_observer_is_unchanged() {
    let (registry, _) = seeded();
    let recorder = Arc::new(Recorder::default());
    let observed = client_for(&registry).with_progress(recorder.clone());
    // The observer belongs to the clone it was given to.
    let plain = client_for(&registry);
    plain
        .pins(&[image(&registry, "base", "3.20")], PlatformPins::Index)
        .await;
    assert_eq!(recorder.0.lock().unwrap().queued, 0);
    observed
        .pins(&[image(&registry, "base", "3.20")], PlatformPins::Index)
        .await;
    assert_eq!(recorder.0.lock().unwrap().queued, 1);
}
