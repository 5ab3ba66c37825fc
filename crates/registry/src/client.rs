//! The resolver: tag → digest with one `HEAD` per unique reference (all four manifest
//! media types in `Accept`), a verified `GET` only when the body is needed (no digest
//! header, an index whose platforms are wanted, an image's platform), and bounded
//! concurrency for many references at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use portcullis_reference::{Algorithm, Digest, ImageRef};
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE,
};
use reqwest::{Method, Response, StatusCode, Url};

use crate::auth::{pick, sensitive, Authenticator, Challenge};
use crate::error::RegistryError;
use crate::keychain::Keychain;
use crate::manifest::{
    parse_config_platform, parse_manifest, Parsed, Platform, PlatformManifest, Resolved,
    MANIFEST_MEDIA_TYPES, MAX_MANIFEST_BYTES,
};
use crate::options::ClientOptions;
use crate::progress::Observer;
use crate::transport::{read_capped, redact_query, Stats, Transport};

/// Image configs larger than this are refused.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// A manifest read and verified against its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub digest: Digest,
    pub media_type: String,
    /// The exact bytes served (hash them, never re-serialize).
    pub bytes: Vec<u8>,
}

/// A registry client. Cheap to clone; clones share tokens, credentials and counters.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// Told about each lookup of [`Client::each`] (see [`Client::with_progress`]).
    pub(crate) observer: Observer,
}

#[derive(Debug)]
struct Inner {
    options: ClientOptions,
    transport: Transport,
    auth: Authenticator,
    /// Per registry, whether it has the referrers API (`None`: not asked yet). A registry
    /// that answers 404 has none (the OCI distribution spec), so its fallback tag is read
    /// directly from then on. The first copy to ask holds the slot while it asks, so
    /// images copied at once send one probe between them, not one each.
    referrers_api: std::sync::Mutex<HashMap<String, ReferrersApi>>,
    /// Registries that refused uploads as too large (413), with the chunk size that is
    /// tried first for the rest of the run.
    chunked_uploads: std::sync::Mutex<HashMap<String, u64>>,
    /// Blob transfers in flight across every copy of this client.
    blob_slots: Arc<tokio::sync::Semaphore>,
}

/// Whether a registry has the referrers API, once known.
pub(crate) type ReferrersApi = Arc<tokio::sync::Mutex<Option<bool>>>;

impl Client {
    /// A client reading credentials from the Docker config and the environment.
    pub fn new(options: ClientOptions) -> Result<Self, RegistryError> {
        let keychain = Keychain::load(options.docker_config.as_deref(), options.use_env)?;
        Self::with_keychain(options, keychain)
    }

    /// A client with an explicit keychain.
    pub fn with_keychain(
        options: ClientOptions,
        keychain: Keychain,
    ) -> Result<Self, RegistryError> {
        let transport = Transport::new(&options)?;
        let blob_slots = options.blob_concurrency.max(1);
        Ok(Self {
            inner: Arc::new(Inner {
                options,
                transport,
                auth: Authenticator::new(keychain),
                referrers_api: std::sync::Mutex::default(),
                chunked_uploads: std::sync::Mutex::default(),
                blob_slots: Arc::new(tokio::sync::Semaphore::new(blob_slots)),
            }),
            observer: Observer::default(),
        })
    }

    /// Request counters so far.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.inner.transport.counters.snapshot()
    }

    /// Resolves by tag (by digest when the reference has only a digest; `latest` when it
    /// has neither) with one `HEAD`, plus a `GET` of the index when the result is
    /// multi-platform, so `platforms` lists its children.
    pub async fn resolve(&self, image: &ImageRef) -> Result<Resolved, RegistryError> {
        let (mut resolved, body) = self.head_or_get(image, &tag_first(image)).await?;
        if resolved.is_index() {
            resolved.platforms = self.index_children(image, &resolved, body).await?;
        }
        Ok(resolved)
    }

    /// The children of the index `resolved` names in `image`'s repository: parsed from
    /// `body` when the lookup already read it, else from a `GET` by digest (verified).
    pub(crate) async fn index_children(
        &self,
        image: &ImageRef,
        resolved: &Resolved,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<PlatformManifest>, RegistryError> {
        let bytes = match body {
            Some(bytes) => bytes,
            None => {
                self.fetch_manifest(&image.with_digest(resolved.digest.clone()))
                    .await?
                    .bytes
            }
        };
        match parse_manifest(&resolved.media_type, &bytes) {
            Ok((_, Parsed::Index(children))) => Ok(children),
            Ok(_) => Ok(Vec::new()),
            Err(reason) => Err(invalid(
                &self.manifest_url(image, &resolved.digest.to_string())?,
                reason,
            )),
        }
    }

    /// Resolves with one `HEAD` only (a `GET` only when the registry gives no digest
    /// header); `platforms` stays empty. What `pin` uses for hundreds of references.
    pub async fn resolve_digest(&self, image: &ImageRef) -> Result<Resolved, RegistryError> {
        Ok(self.head_or_get(image, &tag_first(image)).await?.0)
    }

    /// Whether the manifest exists (by digest when the reference has one).
    pub async fn manifest_exists(&self, image: &ImageRef) -> Result<bool, RegistryError> {
        match self.head_or_get(image, &digest_first(image)).await {
            Ok(_) => Ok(true),
            Err(error) if error.is_not_found() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The platform of an image manifest, from its config blob; `None` for an index.
    pub async fn platform_of(&self, image: &ImageRef) -> Result<Option<Platform>, RegistryError> {
        let manifest = self.fetch_manifest(image).await?;
        let url = self.manifest_url(image, &manifest.digest.to_string())?;
        let (config, config_size) = match parse_manifest(&manifest.media_type, &manifest.bytes) {
            Ok((_, Parsed::Index(_))) => return Ok(None),
            Ok((
                _,
                Parsed::Image {
                    config,
                    config_size,
                },
            )) => (config, config_size),
            Err(reason) => return Err(invalid(&url, reason)),
        };
        if config_size > MAX_CONFIG_BYTES {
            return Err(RegistryError::TooLarge {
                url: redact_query(&url),
                limit: MAX_CONFIG_BYTES,
            });
        }
        let blob_url = self.url(image, &format!("blobs/{config}"))?;
        let counter = &self.inner.transport.counters.blob_requests;
        let response = self
            .send_authed(
                Method::GET,
                image,
                blob_url.clone(),
                HeaderMap::new(),
                counter,
            )
            .await?;
        let response = check_status(response, image, &blob_url)?;
        let bytes = read_capped(response, &blob_url, MAX_CONFIG_BYTES).await?;
        verify(&config, &bytes)?;
        parse_config_platform(&bytes)
            .map(Some)
            .map_err(|reason| invalid(&blob_url, reason))
    }

    /// GETs a manifest (by digest when the reference has one) and verifies its bytes
    /// against the requested digest and the `Docker-Content-Digest` header.
    pub async fn fetch_manifest(&self, image: &ImageRef) -> Result<Manifest, RegistryError> {
        let reference = digest_first(image);
        let url = self.manifest_url(image, &reference)?;
        let counter = &self.inner.transport.counters.manifest_requests;
        let response = self
            .send_authed(Method::GET, image, url.clone(), accept(), counter)
            .await?;
        let response = check_status(response, image, &url)?;
        let header_digest = header_digest(&response, &url)?;
        let media_type = content_type(&response);
        let bytes = read_capped(response, &url, MAX_MANIFEST_BYTES).await?;
        if let Some(expected) = image.digest() {
            verify(expected, &bytes)?;
        }
        if let Some(announced) = &header_digest {
            verify(announced, &bytes)?;
        }
        let digest = match (image.digest(), header_digest) {
            (Some(expected), _) => expected.clone(),
            (None, Some(announced)) => announced,
            (None, None) => Digest::sha256(&bytes),
        };
        let media_type = match parse_manifest(&media_type, &bytes) {
            Ok((declared, _)) if !MANIFEST_MEDIA_TYPES.contains(&media_type.as_str()) => declared,
            Ok(_) => media_type,
            Err(reason) => return Err(invalid(&url, reason)),
        };
        Ok(Manifest {
            digest,
            media_type,
            bytes,
        })
    }

    /// [`Client::resolve`] for many references: each unique reference once, at most
    /// `concurrency` in flight, one token request per repository scope.
    pub async fn resolve_all(
        &self,
        images: &[ImageRef],
    ) -> BTreeMap<ImageRef, Result<Resolved, RegistryError>> {
        self.each(images.iter().cloned(), |client, image| async move {
            client.resolve(&image).await
        })
        .await
    }

    /// [`Client::resolve_digest`] for many references (one `HEAD` per unique reference).
    pub async fn resolve_all_digests(
        &self,
        images: &[ImageRef],
    ) -> BTreeMap<ImageRef, Result<Resolved, RegistryError>> {
        self.each(images.iter().cloned(), |client, image| async move {
            client.resolve_digest(&image).await
        })
        .await
    }

    /// Runs `task` once per unique image, at most `concurrency` at a time.
    pub(crate) async fn each<T, F, Fut>(
        &self,
        images: impl IntoIterator<Item = ImageRef>,
        task: F,
    ) -> BTreeMap<ImageRef, Result<T, RegistryError>>
    where
        T: Send + 'static,
        F: Fn(Client, ImageRef) -> Fut,
        Fut: Future<Output = Result<T, RegistryError>> + Send + 'static,
    {
        let unique: BTreeSet<ImageRef> = images.into_iter().collect();
        let limit = Arc::new(tokio::sync::Semaphore::new(
            self.inner.options.concurrency.max(1),
        ));
        self.observer.queued(unique.len());
        let mut tasks = Vec::new();
        for image in unique {
            let (limit, work) = (Arc::clone(&limit), task(self.clone(), image.clone()));
            let (observer, subject) = (self.observer.clone(), image.clone());
            tasks.push((
                image,
                tokio::spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    observer.started(&subject);
                    let result = work.await;
                    observer.finished(&subject, result.as_ref().err());
                    result
                }),
            ));
        }
        let mut results = BTreeMap::new();
        for (image, task) in tasks {
            let result = task.await.unwrap_or_else(|e| {
                Err(RegistryError::Setup {
                    reason: format!("looking up `{image}` failed: {e}"),
                })
            });
            results.insert(image, result);
        }
        results
    }

    /// `HEAD` the manifest; `GET` when the registry refuses `HEAD` or omits the digest.
    async fn head_or_get(
        &self,
        image: &ImageRef,
        reference: &str,
    ) -> Result<(Resolved, Option<Vec<u8>>), RegistryError> {
        self.head_or_get_as(image, reference, &Access::Pull).await
    }

    /// [`Client::head_or_get`] with the token scope of the operation asking (a copy asks
    /// its target with the scope it writes with: one token per repository).
    pub(crate) async fn head_or_get_as(
        &self,
        image: &ImageRef,
        reference: &str,
        access: &Access,
    ) -> Result<(Resolved, Option<Vec<u8>>), RegistryError> {
        let url = self.manifest_url(image, reference)?;
        let counter = &self.inner.transport.counters.manifest_requests;
        let response = self
            .send_scoped(
                Method::HEAD,
                image,
                access,
                url.clone(),
                accept(),
                None,
                counter,
            )
            .await?;
        if response.status() != StatusCode::METHOD_NOT_ALLOWED {
            let response = check_status(response, image, &url)?;
            let media_type = content_type(&response);
            if let (Some(digest), true) = (header_digest(&response, &url)?, !media_type.is_empty())
            {
                // What `pin` writes must be a manifest, named the way registries name them.
                if !MANIFEST_MEDIA_TYPES.contains(&media_type.as_str()) {
                    return Err(invalid(
                        &url,
                        format!("`Content-Type` `{media_type}` is not a manifest media type"),
                    ));
                }
                if !reference.contains(':') && digest.algorithm() != Algorithm::Sha256 {
                    return Err(invalid(
                        &url,
                        format!("`Docker-Content-Digest` `{digest}` of a tag is not `sha256`"),
                    ));
                }
                if let Some(expected) = image.digest().filter(|_| reference.contains(':')) {
                    if expected != &digest {
                        return Err(RegistryError::DigestMismatch {
                            expected: expected.to_string(),
                            actual: digest.to_string(),
                        });
                    }
                }
                let size = response
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if size > MAX_MANIFEST_BYTES {
                    return Err(RegistryError::TooLarge {
                        url: redact_query(&url),
                        limit: MAX_MANIFEST_BYTES,
                    });
                }
                return Ok((
                    Resolved {
                        digest,
                        media_type,
                        size,
                        platforms: Vec::new(),
                    },
                    None,
                ));
            }
        }
        let target = if reference.contains(':') {
            image.clone()
        } else {
            image.without_digest().with_tag(reference)
        };
        let manifest = self.fetch_manifest(&target).await?;
        let resolved = Resolved {
            digest: manifest.digest,
            media_type: manifest.media_type,
            size: manifest.bytes.len() as u64,
            platforms: Vec::new(),
        };
        Ok((resolved, Some(manifest.bytes)))
    }

    pub(crate) fn base(&self, image: &ImageRef) -> Result<Url, RegistryError> {
        let host = image.api_host();
        let scheme = self.inner.options.scheme_for(host);
        Url::parse(&format!("{scheme}://{host}/")).map_err(|_| RegistryError::Setup {
            reason: format!("registry host `{host}` is not a URL host"),
        })
    }

    pub(crate) fn url(&self, image: &ImageRef, tail: &str) -> Result<Url, RegistryError> {
        let base = self.base(image)?;
        base.join(&format!("v2/{}/{tail}", image.repository()))
            .map_err(|_| RegistryError::Setup {
                reason: format!("cannot build a URL for `{image}`"),
            })
    }

    pub(crate) fn manifest_url(
        &self,
        image: &ImageRef,
        reference: &str,
    ) -> Result<Url, RegistryError> {
        self.url(image, &format!("manifests/{reference}"))
    }

    /// Sends with the right `Authorization` for the image's repository (pull scope),
    /// answering one fresh 401 challenge before giving up with `Unauthorized`.
    async fn send_authed(
        &self,
        method: Method,
        image: &ImageRef,
        url: Url,
        headers: HeaderMap,
        counter: &AtomicU64,
    ) -> Result<Response, RegistryError> {
        self.send_scoped(method, image, &Access::Pull, url, headers, None, counter)
            .await
    }

    /// A pull-scoped `GET` whose body is streamed (a blob): it may take as long as it keeps
    /// arriving.
    pub(crate) async fn send_streamed_authed(
        &self,
        image: &ImageRef,
        url: Url,
        counter: &AtomicU64,
    ) -> Result<Response, RegistryError> {
        self.send_call(
            Method::GET,
            image,
            &Access::Pull,
            url,
            HeaderMap::new(),
            None,
            true,
            counter,
        )
        .await
    }

    /// The request counters, shared with streams that outlive one call.
    pub(crate) fn counters(&self) -> Arc<crate::transport::Counters> {
        Arc::clone(&self.inner.transport.counters)
    }

    /// A slot for one blob transfer: at most `blob_concurrency` at once across every copy.
    pub(crate) async fn blob_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.inner.blob_slots)
            .acquire_owned()
            .await
            .ok()
    }

    /// What is known of `registry`'s referrers API; the slot is locked while one copy asks.
    pub(crate) fn referrers_api(&self, registry: &str) -> ReferrersApi {
        Arc::clone(
            self.inner
                .referrers_api
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(registry.to_owned())
                .or_default(),
        )
    }

    /// The chunk size uploads to `registry` use after it refused larger ones.
    pub(crate) fn preferred_chunk_bytes(&self, registry: &str) -> Option<u64> {
        self.inner
            .chunked_uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(registry)
            .copied()
    }

    /// Remembers that `registry` takes uploads in chunks of at most `bytes`.
    pub(crate) fn note_chunk_bytes(&self, registry: &str, bytes: u64) {
        let mut known = self
            .inner
            .chunked_uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = known.entry(registry.to_owned()).or_insert(bytes);
        *entry = (*entry).min(bytes);
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Learns, at once, each target registry's challenge and the push token for each
    /// repository, so the first writes and `HEAD`s of a batch of copies do not each wait for
    /// them in turn; run it beside other work (listing the sources' tags). Failures are
    /// left for the copies themselves to report.
    pub async fn prepare_push<'a>(&self, targets: impl IntoIterator<Item = &'a ImageRef>) {
        let mut seen = BTreeSet::new();
        let distinct: Vec<&ImageRef> = targets
            .into_iter()
            .filter(|image| seen.insert((image.registry(), image.repository())))
            .collect();
        futures_util::future::join_all(
            distinct
                .into_iter()
                .map(|image| self.authorization(image, &Access::Push)),
        )
        .await;
    }

    /// The `Authorization` value for `access` to `image`'s repository (cached per scope), for
    /// a request sent outside [`Client::send_scoped`] (a streamed upload).
    pub(crate) async fn authorization(
        &self,
        image: &ImageRef,
        access: &Access,
    ) -> Result<Option<portcullis_secret::Secret>, RegistryError> {
        let base = self.base(image)?;
        self.inner
            .auth
            .authorization(
                &self.inner.transport,
                image.registry(),
                &base,
                &access.scope(image),
            )
            .await
    }

    /// [`Client::send_authed`] with the access an operation needs (a push, a mount from
    /// another repository) and a body that may be sent again.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn send_scoped(
        &self,
        method: Method,
        image: &ImageRef,
        access: &Access,
        url: Url,
        headers: HeaderMap,
        body: Option<bytes::Bytes>,
        counter: &AtomicU64,
    ) -> Result<Response, RegistryError> {
        self.send_call(method, image, access, url, headers, body, false, counter)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_call(
        &self,
        method: Method,
        image: &ImageRef,
        access: &Access,
        url: Url,
        mut headers: HeaderMap,
        body: Option<bytes::Bytes>,
        streamed: bool,
        counter: &AtomicU64,
    ) -> Result<Response, RegistryError> {
        let send = |method: Method, url: Url, headers: HeaderMap| {
            let body = body.clone();
            let transport = &self.inner.transport;
            async move {
                if streamed {
                    transport.send_streamed(method, url, headers).await
                } else {
                    transport.send_with(method, url, headers, body).await
                }
            }
        };
        let (transport, auth) = (&self.inner.transport, &self.inner.auth);
        let registry = image.registry();
        let scope = access.scope(image);
        let base = self.base(image)?;
        let first = auth
            .authorization(transport, registry, &base, &scope)
            .await?;
        if let Some(value) = &first {
            headers.insert(AUTHORIZATION, sensitive(value)?);
        }
        counter.fetch_add(1, Ordering::Relaxed);
        let response = send(method.clone(), url.clone(), headers.clone()).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let unauthorized = || RegistryError::Unauthorized {
            registry: registry.to_owned(),
        };
        // A redirect target's challenge is not the registry's: its credentials answer only
        // challenges from its own origin.
        if response.url().origin() != base.origin() {
            return Err(RegistryError::ForeignChallenge {
                registry: registry.to_owned(),
                origin: response.url().origin().ascii_serialization(),
            });
        }
        let plain_ok = base.scheme() == "http";
        let retry = match pick(response.headers()) {
            Some(Challenge::Bearer {
                realm,
                service,
                scope: asked,
            }) => Some(
                auth.token(
                    transport,
                    registry,
                    &realm,
                    service.as_deref(),
                    asked.as_deref().unwrap_or(&scope),
                    first.as_ref(),
                    plain_ok,
                )
                .await?,
            ),
            Some(Challenge::Basic) if first.is_none() => {
                auth.keychain.get(registry).await?.map(|c| c.basic_header())
            }
            _ => None,
        };
        let Some(retry) = retry.filter(|r| Some(r) != first.as_ref()) else {
            return Err(unauthorized());
        };
        headers.insert(AUTHORIZATION, sensitive(&retry)?);
        counter.fetch_add(1, Ordering::Relaxed);
        let response = send(method, url, headers).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(unauthorized());
        }
        Ok(response)
    }
}

/// What an operation needs of a repository: the token scope asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read.
    Pull,
    /// Read and write.
    Push,
    /// Write here, and read `from` (another repository of the same registry) to mount its
    /// blobs.
    Mount { from: String },
}

impl Access {
    /// The token scope(s), space-separated.
    pub(crate) fn scope(&self, image: &ImageRef) -> String {
        let repository = image.repository();
        match self {
            Access::Pull => format!("repository:{repository}:pull"),
            Access::Push => format!("repository:{repository}:pull,push"),
            Access::Mount { from } => {
                format!("repository:{repository}:pull,push repository:{from}:pull")
            }
        }
    }
}

pub(crate) fn tag_first(image: &ImageRef) -> String {
    match (image.tag(), image.digest()) {
        (Some(tag), _) => tag.to_owned(),
        (None, Some(digest)) => digest.to_string(),
        (None, None) => "latest".to_owned(),
    }
}

pub(crate) fn digest_first(image: &ImageRef) -> String {
    image
        .digest()
        .map_or_else(|| tag_first(image), ToString::to_string)
}

pub(crate) fn accept() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_str(&MANIFEST_MEDIA_TYPES.join(", ")).expect("static header"),
    );
    headers
}

pub(crate) fn content_type(response: &Response) -> String {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default()
}

pub(crate) fn header_digest(
    response: &Response,
    url: &Url,
) -> Result<Option<Digest>, RegistryError> {
    let Some(value) = response.headers().get("docker-content-digest") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    Digest::parse(text.trim())
        .map(Some)
        .map_err(|e| invalid(url, format!("`Docker-Content-Digest`: {e}")))
}

pub(crate) fn check_status(
    response: Response,
    image: &ImageRef,
    url: &Url,
) -> Result<Response, RegistryError> {
    match response.status() {
        status if status.is_success() => Ok(response),
        StatusCode::NOT_FOUND => Err(RegistryError::NotFound {
            image: image.to_string(),
        }),
        StatusCode::FORBIDDEN => Err(RegistryError::Denied {
            image: image.to_string(),
        }),
        StatusCode::UNAUTHORIZED => Err(RegistryError::Unauthorized {
            registry: image.registry().to_owned(),
        }),
        status => Err(RegistryError::Http {
            status: status.as_u16(),
            url: redact_query(url),
        }),
    }
}

pub(crate) fn verify(expected: &Digest, bytes: &[u8]) -> Result<(), RegistryError> {
    if expected.verify(bytes) {
        return Ok(());
    }
    Err(RegistryError::DigestMismatch {
        expected: expected.to_string(),
        actual: Digest::of(expected.algorithm(), bytes).to_string(),
    })
}

pub(crate) fn invalid(url: &Url, reason: String) -> RegistryError {
    RegistryError::InvalidManifest {
        url: redact_query(url),
        reason,
    }
}
