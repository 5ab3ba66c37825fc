//! Progress of a batch of lookups, for a caller that shows it: the client reports each
//! lookup queued, started and finished to a [`Progress`] observer and prints nothing
//! itself. [`Client::pins`] and [`Client::facts`] run their lookups in batches (the tags,
//! then the indexes and pins that need reading), so the total grows batch by batch.

use std::fmt;
use std::sync::Arc;

use portcullis_reference::ImageRef;

use crate::client::Client;
use crate::error::RegistryError;

/// Told about every registry lookup a [`Client`] runs in [`Client::pins`] and
/// [`Client::facts`]. Called from the client's tasks, so it must be `Send + Sync`; every
/// method has an empty default.
pub trait Progress: Send + Sync {
    /// `count` more lookups are about to run.
    fn queued(&self, count: usize) {
        let _ = count;
    }
    /// The registry of `image` is being asked about it (`image.registry()` names the host).
    fn started(&self, image: &ImageRef) {
        let _ = image;
    }
    /// The lookup of `image` ended: `None` when it succeeded, else why it failed ("not
    /// found" included).
    fn finished(&self, image: &ImageRef, error: Option<&RegistryError>) {
        let _ = (image, error);
    }
}

/// The observer a client reports to, if any.
#[derive(Clone, Default)]
pub(crate) struct Observer(Option<Arc<dyn Progress>>);

impl Observer {
    pub(crate) fn queued(&self, count: usize) {
        if let Some(progress) = &self.0 {
            if count > 0 {
                progress.queued(count);
            }
        }
    }

    pub(crate) fn started(&self, image: &ImageRef) {
        if let Some(progress) = &self.0 {
            progress.started(image);
        }
    }

    pub(crate) fn finished(&self, image: &ImageRef, error: Option<&RegistryError>) {
        if let Some(progress) = &self.0 {
            progress.finished(image, error);
        }
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Observer(Some)"
        } else {
            "Observer(None)"
        })
    }
}

impl Client {
    /// This client (sharing tokens, credentials and counters) reporting its lookups to
    /// `progress`.
    #[must_use]
    pub fn with_progress(&self, progress: Arc<dyn Progress>) -> Client {
        let mut client = self.clone();
        client.observer = Observer(Some(progress));
        client
    }

    /// Tells the progress observer that `count` more operations (copies) are coming.
    pub fn observe_queued(&self, count: usize) {
        self.observer.queued(count);
    }
}
