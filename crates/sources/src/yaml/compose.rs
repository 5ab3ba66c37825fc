//! Compose files: `services.<name>.image`, with `services.<name>.platform` attached.
//!
//! Compose interpolates `${VAR}` from the environment; portcullis reads none, so defaults
//! apply (`${TAG:-1.27}` → `1.27`) and variables without one leave the reference unresolved.

use std::rc::Rc;

use super::tree::Node;
use super::{Flavor, Sink, Want};
use crate::Context;

/// Reads the services of one compose document.
pub(crate) fn extract(doc: &Rc<Node>, sink: &mut Sink<'_>) {
    let Some(services) = doc.get("services") else {
        return;
    };
    for (name, service) in services.entries() {
        let Some(image) = service.get("image") else {
            continue;
        };
        let mut want = Want::new(Context::ComposeImage, Flavor::Compose);
        want.platform = service
            .get("platform")
            .and_then(|p| p.as_str())
            .map(str::to_owned);
        sink.image(image, &format!("services.{name}.image"), want);
    }
}
