//! Whether registries hold given manifests: what `pin --mirror` asks of a mirror before it
//! points a reference there.

use std::collections::BTreeMap;

use portcullis_reference::ImageRef;

use crate::client::Client;
use crate::error::RegistryError;

impl Client {
    /// For each of `images` (by digest when it has one), whether its registry has the
    /// manifest: one `HEAD` per unique image, run concurrently within the client's limit and
    /// told to its progress observer. "Not found" is `Ok(false)`; any other failure is kept.
    pub async fn manifests_exist(
        &self,
        images: &[ImageRef],
    ) -> BTreeMap<ImageRef, Result<bool, RegistryError>> {
        self.each(images.iter().cloned(), |client, image| async move {
            client.manifest_exists(&image).await
        })
        .await
    }
}
