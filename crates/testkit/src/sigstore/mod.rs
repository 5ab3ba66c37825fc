//! A local Sigstore: an OIDC issuer, Fulcio v2 and Rekor v1 on free loopback ports, with
//! the trusted root, signing config and client trust config that point a real client
//! (sigstore-python, cosign, portcullis) at them. Each stack has its own keys and CA, so
//! two stacks are unrelated roots of trust. Everything stops when the stack is dropped.
//!
//! The services speak plain HTTP: sigstore-python 4.5 takes `http://` URLs from a trust
//! config as they are, so no TLS is needed.
//!
//! ```no_run
//! use portcullis_testkit::sigstore::{Claims, SigstoreStack};
//! let stack = SigstoreStack::start().unwrap();
//! let token = stack.token(&Claims::github("acme/app")).unwrap();
//! let files = stack.write_trust_files(std::path::Path::new("/tmp/stack")).unwrap();
//! // sigstore --trust-config files.trust_config sign --identity-token "$token" FILE
//! # let _ = (token, files);
//! ```

mod der;
mod fulcio;
mod keys;
mod oidc;
mod rekor;
pub(crate) mod server;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use serde_json::{json, Value};

pub use fulcio::{CertifiedIdentity, SubjectName, FULCIO_OID, SCT_LIST_OID};
pub use oidc::Claims;
pub use server::{RecordedRequest, Service};

use server::{Handler, Server};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `operator` of every service in the signing config.
const OPERATOR: &str = "portcullis-testkit";

struct Inner {
    issuer: oidc::Issuer,
    fulcio: fulcio::Fulcio,
    rekor: rekor::Rekor,
    /// `iss` values Fulcio accepts (all verified with the issuer's key).
    issuers: Vec<String>,
}

/// A running local Sigstore.
pub struct SigstoreStack {
    inner: Arc<Inner>,
    log: Arc<Mutex<Vec<RecordedRequest>>>,
    _servers: Vec<Server>,
}

impl std::fmt::Debug for SigstoreStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigstoreStack")
            .field("issuer", &self.inner.issuer.url)
            .field("fulcio", &self.inner.fulcio.url)
            .field("rekor", &self.inner.rekor.url)
            .finish_non_exhaustive()
    }
}

/// Options for [`SigstoreStack`].
#[derive(Debug, Clone, Default)]
pub struct StackBuilder {
    extra_issuers: Vec<String>,
}

impl StackBuilder {
    /// Also accept tokens whose `iss` is `url` (still signed by the stack's issuer key),
    /// e.g. `https://token.actions.githubusercontent.com` to certify a production-looking
    /// issuer; mint them with `Claims::…().set("iss", url)`.
    #[must_use]
    pub fn accept_issuer(mut self, url: &str) -> Self {
        self.extra_issuers.push(url.to_owned());
        self
    }

    pub fn start(self) -> Result<SigstoreStack> {
        let (oidc_listener, issuer_url) = server::bind()?;
        let (fulcio_listener, fulcio_url) = server::bind()?;
        let (rekor_listener, rekor_url) = server::bind()?;
        let mut issuers = vec![issuer_url.clone()];
        issuers.extend(self.extra_issuers);
        let inner = Arc::new(Inner {
            issuer: oidc::Issuer::new(issuer_url)?,
            fulcio: fulcio::Fulcio::new(fulcio_url)?,
            rekor: rekor::Rekor::new(rekor_url)?,
            issuers,
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler = |f: fn(&Inner, &server::Request) -> server::Response| -> Handler {
            let inner = Arc::clone(&inner);
            Arc::new(move |request| f(&inner, request))
        };
        let servers = vec![
            Server::start(
                Service::Oidc,
                oidc_listener,
                Arc::clone(&log),
                handler(|inner, request| inner.issuer.handle(request, &oidc::claims_for)),
            )?,
            Server::start(
                Service::Fulcio,
                fulcio_listener,
                Arc::clone(&log),
                handler(|inner, request| {
                    inner.fulcio.handle(request, &inner.issuer, &inner.issuers)
                }),
            )?,
            Server::start(
                Service::Rekor,
                rekor_listener,
                Arc::clone(&log),
                handler(|inner, request| inner.rekor.handle(request)),
            )?,
        ];
        Ok(SigstoreStack {
            inner,
            log,
            _servers: servers,
        })
    }
}

/// Where [`SigstoreStack::write_trust_files`] wrote the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustFiles {
    /// `trusted_root.json`.
    pub trusted_root: PathBuf,
    /// `signing_config.v0.2.json`.
    pub signing_config: PathBuf,
    /// `trust_config.json`: both, as a client trust config.
    pub trust_config: PathBuf,
}

impl SigstoreStack {
    /// Starts a stack with a fresh CA, CT log key, Rekor key and issuer key.
    pub fn start() -> Result<Self> {
        Self::builder().start()
    }

    #[must_use]
    pub fn builder() -> StackBuilder {
        StackBuilder::default()
    }

    /// The issuer URL, the `iss` of the stack's tokens.
    #[must_use]
    pub fn issuer_url(&self) -> &str {
        &self.inner.issuer.url
    }

    #[must_use]
    pub fn fulcio_url(&self) -> &str {
        &self.inner.fulcio.url
    }

    #[must_use]
    pub fn rekor_url(&self) -> &str {
        &self.inner.rekor.url
    }

    /// The token endpoint, shaped like GitHub's `ACTIONS_ID_TOKEN_REQUEST_URL` (append
    /// `&audience=…`); `flavor=gitlab|email` picks other claims.
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/token?flavor=github", self.inner.issuer.url)
    }

    /// The bearer the token endpoint accepts, as `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (a
    /// request without `Authorization` is served too; a wrong one gets 401).
    #[must_use]
    pub fn request_token(&self) -> &str {
        &self.inner.issuer.request_token
    }

    /// Mints an ID token signed by the stack's issuer key.
    pub fn token(&self, claims: &Claims) -> Result<String> {
        self.inner.issuer.mint(claims)
    }

    /// What Fulcio will certify for a token with `claims` from this issuer.
    pub fn identity(&self, claims: &Claims) -> Result<CertifiedIdentity> {
        let claims = match claims.get("iss") {
            Some(_) => claims.clone(),
            None => claims.clone().set("iss", self.inner.issuer.url.clone()),
        };
        CertifiedIdentity::from_claims(&claims)
    }

    /// The CA chain above every leaf: intermediate then root, PEM.
    #[must_use]
    pub fn ca_chain_pem(&self) -> Vec<String> {
        self.inner
            .fulcio
            .chain_der()
            .iter()
            .map(|c| keys::cert_pem(c))
            .collect()
    }

    /// Every request the stack's services received, in order of completion.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests one service received.
    #[must_use]
    pub fn requests_to(&self, service: Service) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.service == service)
            .collect()
    }

    /// Entries in the transparency log.
    #[must_use]
    pub fn log_size(&self) -> usize {
        self.inner.rekor.size()
    }

    /// `application/vnd.dev.sigstore.trustedroot+json;version=0.1` for this stack.
    #[must_use]
    pub fn trusted_root(&self) -> Value {
        let start = crate::token::rfc3339(
            u64::try_from(self.inner.fulcio.valid_from.unix_timestamp()).unwrap_or(0),
        );
        let log_key = |key: &keys::Key, url: &str| {
            json!({
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(key.spki()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": { "start": start },
                },
                "logId": { "keyId": B64.encode(key.key_id()) },
            })
        };
        let chain: Vec<Value> = self
            .inner
            .fulcio
            .chain_der()
            .iter()
            .map(|c| json!({ "rawBytes": B64.encode(c) }))
            .collect();
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log_key(&self.inner.rekor.key, self.rekor_url())],
            "certificateAuthorities": [{
                "subject": { "organization": "portcullis-testkit", "commonName": "sigstore" },
                "uri": self.fulcio_url(),
                "certChain": { "certificates": chain },
                "validFor": { "start": start },
            }],
            "ctlogs": [log_key(&self.inner.fulcio.ct_key, &format!("{}/ct", self.fulcio_url()))],
            "timestampAuthorities": [],
        })
    }

    /// `application/vnd.dev.sigstore.signingconfig.v0.2+json`: this Fulcio, issuer and
    /// Rekor (API v1), no timestamp authority.
    #[must_use]
    pub fn signing_config(&self) -> Value {
        let start = crate::token::rfc3339(
            u64::try_from(self.inner.fulcio.valid_from.unix_timestamp()).unwrap_or(0),
        );
        let service = |url: &str| {
            json!([{ "url": url, "majorApiVersion": 1, "validFor": { "start": start },
                     "operator": OPERATOR }])
        };
        json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": service(self.fulcio_url()),
            "oidcUrls": service(self.issuer_url()),
            "rekorTlogUrls": service(self.rekor_url()),
            "tsaUrls": [],
            "rekorTlogConfig": { "selector": "ANY" },
            "tsaConfig": { "selector": "ANY" },
        })
    }

    /// `application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`: the trusted root and
    /// the signing config together, what `sigstore --trust-config` reads.
    #[must_use]
    pub fn trust_config(&self) -> Value {
        json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": self.trusted_root(),
            "signingConfig": self.signing_config(),
        })
    }

    /// Writes `trusted_root.json`, `signing_config.v0.2.json` and `trust_config.json`
    /// into `dir` (created if missing).
    pub fn write_trust_files(&self, dir: &Path) -> Result<TrustFiles> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
        let files = TrustFiles {
            trusted_root: dir.join("trusted_root.json"),
            signing_config: dir.join("signing_config.v0.2.json"),
            trust_config: dir.join("trust_config.json"),
        };
        for (path, value) in [
            (&files.trusted_root, self.trusted_root()),
            (&files.signing_config, self.signing_config()),
            (&files.trust_config, self.trust_config()),
        ] {
            std::fs::write(path, serde_json::to_vec_pretty(&value)?)
                .with_context(|| format!("writing `{}`", path.display()))?;
        }
        Ok(files)
    }
}
