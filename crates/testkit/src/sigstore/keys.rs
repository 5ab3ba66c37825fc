//! ECDSA P-256 keys: the stack signs with `ring` and checks its clients' signatures with
//! `p256` (Rekor's `hashedrekord` signs a digest, which `ring` cannot verify).

use anyhow::{anyhow, Context as _, Result};
use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
use p256::ecdsa::signature::Verifier as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use sha2::{Digest as _, Sha256};

/// A P-256 key the stack signs with: a CA, the CT log, Rekor or the OIDC issuer.
pub(crate) struct Key {
    pub pair: rcgen::KeyPair,
    ring: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").finish_non_exhaustive()
    }
}

impl Key {
    pub fn generate() -> Result<Self> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let rng = SystemRandom::new();
        let signer =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pair.serialize_der(), &rng)
                .map_err(|e| anyhow!("loading a generated P-256 key: {e}"))?;
        Ok(Self {
            pair,
            ring: signer,
            rng,
        })
    }

    /// The DER `SubjectPublicKeyInfo`.
    pub fn spki(&self) -> Vec<u8> {
        self.pair.public_key_der()
    }

    /// sha256 of the SPKI: Rekor's log ID, a CT log's ID, the checkpoint key hint.
    pub fn key_id(&self) -> [u8; 32] {
        Sha256::digest(self.spki()).into()
    }

    /// An ASN.1 DER ECDSA signature over sha256(`message`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        Ok(self
            .ring
            .sign(&self.rng, message)
            .map_err(|e| anyhow!("signing: {e}"))?
            .as_ref()
            .to_vec())
    }

    /// The public point's affine coordinates, for a JWK.
    pub fn coordinates(&self) -> ([u8; 32], [u8; 32]) {
        let point = self.pair.public_key_raw();
        let mut x = [0; 32];
        let mut y = [0; 32];
        x.copy_from_slice(&point[1..33]);
        y.copy_from_slice(&point[33..65]);
        (x, y)
    }

    /// A fixed-size (`r || s`) signature, as JWS ES256 wants.
    pub fn sign_jws(&self, message: &[u8]) -> Result<Vec<u8>> {
        let der = self.sign(message)?;
        let signature = p256::ecdsa::Signature::from_der(&der)?;
        Ok(signature.to_bytes().to_vec())
    }
}

fn verifying_key(spki: &[u8]) -> Result<p256::ecdsa::VerifyingKey> {
    let point = super::der::spki_key_bits(spki)?;
    p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
        .context("the public key is not an ECDSA P-256 key")
}

/// Checks an ASN.1 DER ECDSA P-256 signature over sha256(`message`).
pub(crate) fn verify(spki: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    let signature =
        p256::ecdsa::Signature::from_der(signature).context("the signature is not DER ECDSA")?;
    verifying_key(spki)?
        .verify(message, &signature)
        .context("the signature does not verify")
}

/// Checks an ASN.1 DER ECDSA P-256 signature over a sha256 `digest`.
pub(crate) fn verify_digest(spki: &[u8], digest: &[u8], signature: &[u8]) -> Result<()> {
    let signature =
        p256::ecdsa::Signature::from_der(signature).context("the signature is not DER ECDSA")?;
    verifying_key(spki)?
        .verify_prehash(digest, &signature)
        .context("the signature does not verify")
}

/// Checks a fixed-size (`r || s`) ES256 signature.
pub(crate) fn verify_jws(spki: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    let signature = p256::ecdsa::Signature::from_slice(signature)
        .context("the JWS signature is not 64 bytes of r || s")?;
    verifying_key(spki)?
        .verify(message, &signature)
        .context("the JWS signature does not verify")
}

/// PEM of a DER certificate.
pub(crate) fn cert_pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

pub(crate) fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

/// The DER inside the first PEM block labelled `label`.
pub(crate) fn pem_decode(text: &str, label: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .with_context(|| format!("no `{begin}` block"))?
        + begin.len();
    let stop = text[start..]
        .find(&end)
        .with_context(|| format!("no `{end}` line"))?
        + start;
    let body: String = text[start..stop].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .with_context(|| format!("the `{label}` PEM block is not base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_tampering_is_caught() {
        let key = Key::generate().unwrap();
        let signature = key.sign(b"checkpoint").unwrap();
        verify(&key.spki(), b"checkpoint", &signature).unwrap();
        assert!(verify(&key.spki(), b"checkpoinT", &signature).is_err());
        let digest = Sha256::digest(b"artifact");
        verify_digest(&key.spki(), &digest, &key.sign(b"artifact").unwrap()).unwrap();
        let jws = key.sign_jws(b"header.claims").unwrap();
        assert_eq!(jws.len(), 64);
        verify_jws(&key.spki(), b"header.claims", &jws).unwrap();
        let other = Key::generate().unwrap();
        assert!(verify(&other.spki(), b"checkpoint", &signature).is_err());
    }

    #[test]
    fn pem_round_trips() {
        let pem = cert_pem(&[1, 2, 3, 250]);
        assert_eq!(pem_decode(&pem, "CERTIFICATE").unwrap(), [1, 2, 3, 250]);
        assert!(pem_decode(&pem, "PUBLIC KEY").is_err());
    }
}
