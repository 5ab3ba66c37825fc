//! Fulcio v2: `POST /api/v2/signingCert` (public key with proof of possession, or a
//! CSR) issues a ten-minute leaf from a root → intermediate CA, with the SAN and the
//! Fulcio extensions (`1.3.6.1.4.1.57264.1.*`) for the token's claims and an embedded SCT
//! from the stack's CT log key (precertificate flow, RFC 6962).

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail, Context as _, Result};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

use super::der;
use super::keys::{self, Key};
use super::oidc::{Claims, Issuer};
use super::server::{Request, Response};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Fulcio's OID arc: `1.3.6.1.4.1.57264.1`.
pub const FULCIO_OID: [u64; 8] = [1, 3, 6, 1, 4, 1, 57264, 1];
/// The CT precertificate poison, `1.3.6.1.4.1.11129.2.4.3`.
const POISON_OID: [u64; 10] = [1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];
/// The embedded SCT list, `1.3.6.1.4.1.11129.2.4.2`.
pub const SCT_LIST_OID: [u64; 10] = [1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];
const SAN_OID: [u64; 4] = [2, 5, 29, 17];
const SKI_OID: [u64; 4] = [2, 5, 29, 14];

/// Where CI links in the certificate point (the hosted forges).
const GITHUB_URL: &str = "https://github.com";
const GITLAB_URL: &str = "https://gitlab.com";

/// Who the certificate names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectName {
    /// A URI SAN (CI workflows and pipelines).
    Uri(String),
    /// An email SAN (people).
    Email(String),
}

impl SubjectName {
    /// The SAN's text, as `--cert-identity` takes it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Uri(text) | Self::Email(text) => text,
        }
    }
}

/// What Fulcio certifies for a token: the SAN and the extension values by their last
/// arc under [`FULCIO_OID`] (1 and 2–6 raw strings, 8 and up DER `UTF8String`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedIdentity {
    /// The subject alternative name.
    pub san: SubjectName,
    /// `(arc, value)` pairs in OID order.
    pub extensions: Vec<(u64, String)>,
}

impl CertifiedIdentity {
    /// The value Fulcio puts under `1.3.6.1.4.1.57264.1.<arc>`.
    #[must_use]
    pub fn extension(&self, arc: u64) -> Option<&str> {
        self.extensions
            .iter()
            .find(|(a, _)| *a == arc)
            .map(|(_, v)| v.as_str())
    }

    /// Maps verified token claims as Fulcio's GitHub Actions (`job_workflow_ref`),
    /// GitLab (`ci_config_ref_uri`) and email issuers do.
    pub fn from_claims(claims: &Claims) -> Result<Self> {
        let iss = claims.get("iss").context("the token has no `iss` claim")?;
        let c = |name: &str| claims.get(name).map(str::to_owned);
        let join = |base: &str, name: &str| c(name).map(|v| format!("{base}/{v}"));
        let (san, mut extensions): (SubjectName, Vec<(u64, Option<String>)>) =
            if let Some(workflow) = claims.get("job_workflow_ref") {
                let run = match (c("repository"), c("run_id"), c("run_attempt")) {
                    (Some(repo), Some(id), Some(attempt)) => Some(format!(
                        "{GITHUB_URL}/{repo}/actions/runs/{id}/attempts/{attempt}"
                    )),
                    _ => None,
                };
                let signer = format!("{GITHUB_URL}/{workflow}");
                (
                    SubjectName::Uri(signer.clone()),
                    vec![
                        (2, c("event_name")),
                        (3, c("sha")),
                        (4, c("workflow")),
                        (5, c("repository")),
                        (6, c("ref")),
                        (9, Some(signer)),
                        (10, c("job_workflow_sha")),
                        (11, c("runner_environment")),
                        (12, join(GITHUB_URL, "repository")),
                        (13, c("sha")),
                        (14, c("ref")),
                        (15, c("repository_id")),
                        (16, join(GITHUB_URL, "repository_owner")),
                        (17, c("repository_owner_id")),
                        (18, join(GITHUB_URL, "workflow_ref")),
                        (19, c("workflow_sha")),
                        (20, c("event_name")),
                        (21, run),
                        (22, c("repository_visibility")),
                    ],
                )
            } else if let Some(config) = claims.get("ci_config_ref_uri") {
                let signer = format!("https://{config}");
                let git_ref = match (claims.get("ref_type"), claims.get("ref")) {
                    (Some("tag"), Some(name)) => Some(format!("refs/tags/{name}")),
                    (_, Some(name)) => Some(format!("refs/heads/{name}")),
                    _ => None,
                };
                let run = match (c("project_path"), c("job_id")) {
                    (Some(project), Some(job)) => {
                        Some(format!("{GITLAB_URL}/{project}/-/jobs/{job}"))
                    }
                    _ => None,
                };
                (
                    SubjectName::Uri(signer.clone()),
                    vec![
                        (9, Some(signer.clone())),
                        (10, c("ci_config_sha")),
                        (11, c("runner_environment")),
                        (12, join(GITLAB_URL, "project_path")),
                        (13, c("sha")),
                        (14, git_ref),
                        (15, c("project_id")),
                        (16, join(GITLAB_URL, "namespace_path")),
                        (17, c("namespace_id")),
                        (18, Some(signer)),
                        (19, c("ci_config_sha")),
                        (20, c("pipeline_source")),
                        (21, run),
                        (22, c("project_visibility")),
                    ],
                )
            } else if let Some(email) = claims.get("email") {
                if claims.map().get("email_verified") != Some(&Value::Bool(true)) {
                    bail!("the token's email `{email}` is not verified (`email_verified`)");
                }
                (SubjectName::Email(email.to_owned()), Vec::new())
            } else {
                bail!(
                    "the token has neither `job_workflow_ref`, `ci_config_ref_uri` nor a \
                     verified `email`: nothing Fulcio can certify"
                );
            };
        extensions.push((1, Some(iss.to_owned())));
        extensions.push((8, Some(iss.to_owned())));
        let mut extensions: Vec<(u64, String)> = extensions
            .into_iter()
            .filter_map(|(arc, value)| value.map(|v| (arc, v)))
            .collect();
        extensions.sort_by_key(|(arc, _)| *arc);
        Ok(Self { san, extensions })
    }
}

/// A client's P-256 public key, for rcgen.
struct ClientKey(Vec<u8>);

impl rcgen::PublicKeyData for ClientKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// The certificate authority and its CT log.
pub(crate) struct Fulcio {
    pub url: String,
    root: rcgen::Certificate,
    intermediate_key: Key,
    intermediate: rcgen::Certificate,
    pub ct_key: Key,
    /// Start of the CA's validity, for the trusted root's `validFor`.
    pub valid_from: OffsetDateTime,
    serial: AtomicU64,
}

impl std::fmt::Debug for Fulcio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fulcio")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn name(common_name: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::OrganizationName, "portcullis-testkit");
    dn.push(rcgen::DnType::CommonName, common_name);
    dn
}

impl Fulcio {
    pub fn new(url: String) -> Result<Self> {
        let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
        let valid_from = now - Duration::days(1);
        let root_key = Key::generate()?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = name("sigstore");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(1));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        params.not_before = valid_from;
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(rcgen::SerialNumber::from(1u64));
        let root = params.self_signed(&root_key.pair)?;

        let intermediate_key = Key::generate()?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = name("sigstore-intermediate");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        params.use_authority_key_identifier_extension = true;
        params.not_before = valid_from;
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(rcgen::SerialNumber::from(2u64));
        let intermediate = params.signed_by(&intermediate_key.pair, &root, &root_key.pair)?;
        Ok(Self {
            url,
            root,
            intermediate_key,
            intermediate,
            ct_key: Key::generate()?,
            valid_from,
            serial: AtomicU64::new(1),
        })
    }

    /// The chain below a leaf: intermediate then root, DER.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        vec![self.intermediate.der().to_vec(), self.root.der().to_vec()]
    }

    /// Issues a leaf for `spki` naming `identity`: precertificate, SCT over it, final
    /// certificate with the SCT embedded. Returns the leaf's DER.
    pub fn issue(&self, spki: &[u8], identity: &CertifiedIdentity) -> Result<Vec<u8>> {
        let point = der::spki_key_bits(spki)?.to_vec();
        p256::PublicKey::from_sec1_bytes(&point)
            .map_err(|_| anyhow!("the public key is not an ECDSA P-256 key"))?;
        let key = ClientKey(point);
        let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.not_before = now;
        params.not_after = now + Duration::minutes(10);
        let mut serial = Sha256::digest(format!(
            "{}-{}",
            self.serial.fetch_add(1, Ordering::SeqCst),
            now.unix_timestamp_nanos()
        ))[..16]
            .to_vec();
        serial[0] &= 0x7f;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::CodeSigning];
        params.use_authority_key_identifier_extension = true;
        // rcgen's `ExplicitNoCa` encodes `cA FALSE`, a DER default that strict parsers
        // refuse; Fulcio's leaves carry no basic constraints, only a key identifier.
        params.is_ca = rcgen::IsCa::NoCa;
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &SKI_OID,
                der::tlv(der::OCTET_STRING, &Sha256::digest(&key.0)[..20]),
            ));
        // RFC 5280: with an empty subject the SAN is critical; rcgen would write it
        // non-critical, so it goes in as a custom extension.
        let general_name = match &identity.san {
            SubjectName::Uri(uri) => der::tlv(0x86, uri.as_bytes()),
            SubjectName::Email(email) => der::tlv(0x81, email.as_bytes()),
        };
        let mut san = rcgen::CustomExtension::from_oid_content(
            &SAN_OID,
            der::tlv(der::SEQUENCE, &general_name),
        );
        san.set_criticality(true);
        params.custom_extensions.push(san);
        for (arc, value) in &identity.extensions {
            let mut oid = FULCIO_OID.to_vec();
            oid.push(*arc);
            let content = if *arc < 8 {
                value.as_bytes().to_vec()
            } else {
                der::utf8_string(value)
            };
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(&oid, content));
        }

        let mut precert = params.clone();
        let mut poison = rcgen::CustomExtension::from_oid_content(&POISON_OID, vec![0x05, 0x00]);
        poison.set_criticality(true);
        precert.custom_extensions.push(poison);
        let precert = precert.signed_by(&key, &self.intermediate, &self.intermediate_key.pair)?;
        let signed_tbs = der::tbs_without_extension(
            der::tbs_certificate(precert.der())?,
            &der::oid_content(&POISON_OID),
        )?;
        let sct_list = self.sct_list(&signed_tbs)?;
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                &SCT_LIST_OID,
                der::tlv(der::OCTET_STRING, &sct_list),
            ));
        let leaf = params.signed_by(&key, &self.intermediate, &self.intermediate_key.pair)?;
        Ok(leaf.der().to_vec())
    }

    /// A TLS-encoded `SignedCertificateTimestampList` holding one v1 SCT over a
    /// precertificate entry for `tbs`.
    fn sct_list(&self, tbs: &[u8]) -> Result<Vec<u8>> {
        let timestamp =
            u64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)?;
        let issuer_key_hash = Sha256::digest(self.intermediate_key.spki());
        let tbs_len = u32::try_from(tbs.len())?.to_be_bytes();
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&timestamp.to_be_bytes());
        signed.extend_from_slice(&[0, 1]);
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&tbs_len[1..]);
        signed.extend_from_slice(tbs);
        signed.extend_from_slice(&[0, 0]);
        let signature = self.ct_key.sign(&signed)?;
        let mut sct = vec![0u8];
        sct.extend_from_slice(&self.ct_key.key_id());
        sct.extend_from_slice(&timestamp.to_be_bytes());
        sct.extend_from_slice(&[0, 0, 4, 3]);
        sct.extend_from_slice(&u16::try_from(signature.len())?.to_be_bytes());
        sct.extend_from_slice(&signature);
        let mut list = u16::try_from(sct.len() + 2)?.to_be_bytes().to_vec();
        list.extend_from_slice(&u16::try_from(sct.len())?.to_be_bytes());
        list.extend_from_slice(&sct);
        Ok(list)
    }

    /// Answers Fulcio's v2 REST API.
    pub fn handle(&self, request: &Request, issuer: &Issuer, issuers: &[String]) -> Response {
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/api/v2/signingCert") => match self.signing_cert(request, issuer, issuers) {
                Ok(response) => response,
                Err(Refusal(status, message)) => Response::error(status, &message),
            },
            ("GET", "/api/v2/trustBundle") => {
                let chain: Vec<String> =
                    self.chain_der().iter().map(|c| keys::cert_pem(c)).collect();
                Response::json(200, &json!({ "chains": [{ "certificates": chain }] }))
            }
            ("GET", "/api/v2/configuration") => Response::json(
                200,
                &json!({ "issuers": issuers.iter().map(|url| json!({
                    "issuerUrl": url, "audience": "sigstore", "challengeClaim": "sub",
                })).collect::<Vec<_>>() }),
            ),
            _ => Response::error(404, &format!("no route for `{}`", request.path)),
        }
    }

    fn signing_cert(
        &self,
        request: &Request,
        issuer: &Issuer,
        issuers: &[String],
    ) -> Result<Response, Refusal> {
        let body: Value = serde_json::from_slice(&request.body)
            .map_err(|e| Refusal::bad(format!("the request body is not JSON: {e}")))?;
        let bearer = request
            .header("authorization")
            .and_then(|auth| auth.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_owned());
        let token = body["credentials"]["oidcIdentityToken"]
            .as_str()
            .map(str::to_owned)
            .or(bearer)
            .ok_or_else(|| Refusal(401, "no identity token: neither `credentials.oidcIdentityToken` nor `Authorization: Bearer`".into()))?;
        let claims = issuer
            .verify(&token, issuers)
            .map_err(|e| Refusal(401, format!("{e:#}")))?;
        let spki = if let Some(csr) = body["certificateSigningRequest"].as_str() {
            csr_key(csr).map_err(|e| Refusal::bad(format!("certificateSigningRequest: {e:#}")))?
        } else {
            possession_key(&body["publicKeyRequest"], &claims)
                .map_err(|e| Refusal::bad(format!("publicKeyRequest: {e:#}")))?
        };
        let identity =
            CertifiedIdentity::from_claims(&claims).map_err(|e| Refusal::bad(format!("{e:#}")))?;
        let leaf = self
            .issue(&spki, &identity)
            .map_err(|e| Refusal::bad(format!("{e:#}")))?;
        let mut chain = vec![keys::cert_pem(&leaf)];
        chain.extend(self.chain_der().iter().map(|c| keys::cert_pem(c)));
        Ok(Response::json(
            201,
            &json!({ "signedCertificateEmbeddedSct": { "chain": { "certificates": chain } } }),
        ))
    }
}

struct Refusal(u16, String);

impl Refusal {
    fn bad(message: String) -> Self {
        Self(400, message)
    }
}

/// The key of a base64-of-PEM CSR whose self-signature verifies.
fn csr_key(encoded: &str) -> Result<Vec<u8>> {
    let pem = B64.decode(encoded.trim()).context("not base64")?;
    let pem = String::from_utf8(pem).context("not PEM text")?;
    let der = keys::pem_decode(&pem, "CERTIFICATE REQUEST")?;
    let csr = der::parse_csr(&der)?;
    keys::verify(csr.spki, csr.info, csr.signature)
        .context("the CSR's self-signature does not verify with its key")?;
    Ok(csr.spki.to_vec())
}

/// The PEM public key of a `publicKeyRequest`, whose `proofOfPossession` must sign the
/// token's `sub` (or its email).
fn possession_key(request: &Value, claims: &Claims) -> Result<Vec<u8>> {
    let pem = request["publicKey"]["content"]
        .as_str()
        .context("missing `publicKey.content`")?;
    let spki = keys::pem_decode(pem, "PUBLIC KEY")?;
    let proof = B64
        .decode(
            request["proofOfPossession"]
                .as_str()
                .context("missing `proofOfPossession`")?,
        )
        .context("`proofOfPossession` is not base64")?;
    let signed_any = [claims.get("email"), claims.get("sub")]
        .into_iter()
        .flatten()
        .any(|challenge| keys::verify(&spki, challenge.as_bytes(), &proof).is_ok());
    if !signed_any {
        bail!("`proofOfPossession` is not a signature over the token's subject with this key");
    }
    Ok(spki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_claims_map_to_fulcio_extensions() {
        let claims = Claims::github("acme/app").set("iss", "https://issuer.test");
        let identity = CertifiedIdentity::from_claims(&claims).unwrap();
        let workflow = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
        assert_eq!(identity.san, SubjectName::Uri(workflow.into()));
        assert_eq!(identity.extension(1), Some("https://issuer.test"));
        assert_eq!(identity.extension(8), Some("https://issuer.test"));
        assert_eq!(identity.extension(9), Some(workflow));
        assert_eq!(identity.extension(12), Some("https://github.com/acme/app"));
        assert_eq!(identity.extension(14), Some("refs/heads/main"));
        assert_eq!(identity.extension(16), Some("https://github.com/acme"));
        assert_eq!(identity.extension(20), Some("push"));
        assert_eq!(
            identity.extension(21),
            Some("https://github.com/acme/app/actions/runs/7001/attempts/1")
        );
        assert_eq!(identity.extension(22), Some("public"));
    }

    #[test]
    fn gitlab_claims_map_to_fulcio_extensions() {
        let claims = Claims::gitlab("group/project")
            .set("iss", "https://gitlab.test")
            .set("ref_type", "tag")
            .set("ref", "v1.0");
        let identity = CertifiedIdentity::from_claims(&claims).unwrap();
        let config = "https://gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main";
        assert_eq!(identity.san.as_str(), config);
        assert_eq!(identity.extension(14), Some("refs/tags/v1.0"));
        assert_eq!(identity.extension(16), Some("https://gitlab.com/group"));
        assert_eq!(identity.extension(18), Some(config));
        assert_eq!(identity.extension(20), Some("push"));
        assert_eq!(
            identity.extension(21),
            Some("https://gitlab.com/group/project/-/jobs/990022")
        );
        assert_eq!(
            identity.extension(2),
            None,
            "GitHub's legacy OIDs stay GitHub's"
        );
    }

    #[test]
    fn email_needs_verification_and_some_identity_is_required() {
        let claims = Claims::email("dev@example.com").set("iss", "https://i");
        let identity = CertifiedIdentity::from_claims(&claims).unwrap();
        assert_eq!(identity.san, SubjectName::Email("dev@example.com".into()));
        let unverified = claims.clone().set("email_verified", false);
        assert!(CertifiedIdentity::from_claims(&unverified).is_err());
        let nothing = claims.without("email");
        assert!(CertifiedIdentity::from_claims(&nothing).is_err());
    }

    #[test]
    fn the_sct_signs_the_final_certificate_without_its_sct_list() {
        let fulcio = Fulcio::new("http://127.0.0.1:1".into()).unwrap();
        let client = Key::generate().unwrap();
        let identity =
            CertifiedIdentity::from_claims(&Claims::github("a/b").set("iss", "https://i")).unwrap();
        let leaf = fulcio.issue(&client.spki(), &identity).unwrap();
        let tbs = der::tbs_without_extension(
            der::tbs_certificate(&leaf).unwrap(),
            &der::oid_content(&SCT_LIST_OID),
        )
        .unwrap();
        // The embedded SCT list: one SCT whose signature covers that TBS, rebuilt as a
        // verifier rebuilds it (RFC 6962 §3.2, precert_entry).
        let value = der::extension_value(
            der::tbs_certificate(&leaf).unwrap(),
            &der::oid_content(&SCT_LIST_OID),
        )
        .unwrap()
        .expect("an SCT list extension");
        let list = der::Reader::new(value)
            .expect(der::OCTET_STRING, "SCT list")
            .unwrap();
        let sct = &list.content[4..];
        assert_eq!(sct[0], 0, "SCT v1");
        assert_eq!(&sct[1..33], &fulcio.ct_key.key_id());
        let timestamp = &sct[33..41];
        assert_eq!(&sct[41..45], &[0, 0, 4, 3], "no extensions, sha256, ecdsa");
        let signature = &sct[47..];
        let mut signed = vec![0u8, 0];
        signed.extend_from_slice(timestamp);
        signed.extend_from_slice(&[0, 1]);
        signed.extend_from_slice(&Sha256::digest(fulcio.intermediate_key.spki()));
        signed.extend_from_slice(&u32::try_from(tbs.len()).unwrap().to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&[0, 0]);
        keys::verify(&fulcio.ct_key.spki(), &signed, signature).unwrap();
    }
}
