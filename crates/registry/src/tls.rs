//! TLS for registry connections: the system's roots plus configured CA files, loaded on the
//! first TLS handshake rather than when the client is built.
//!
//! Loading the system roots reads and parses every file under `/etc/ssl/certs` (about 150
//! on Debian, a few milliseconds). A run that only talks plain HTTP to a loopback registry —
//! a no-change mirror re-run in CI, the test suite — never needs them, and a run that does
//! pays the cost once, at its first `https://` connection.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::RegistryError;

/// The client configuration every registry connection uses: HTTP/2 and HTTP/1.1 offered,
/// server certificates checked by [`LazyRoots`].
pub(crate) fn client_config(extra_roots: Vec<CertificateDer<'static>>) -> rustls::ClientConfig {
    let provider = provider();
    let verifier = Arc::new(LazyRoots {
        extra_roots,
        provider: Arc::clone(&provider),
        verifier: OnceLock::new(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the default protocol versions are supported by the default provider")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// The certificates of a PEM CA file, each of them (an empty file is an error: a CA file
/// that adds nothing is a mistake worth naming).
pub(crate) fn read_ca_file(
    file: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, RegistryError> {
    let setup = |reason: String| RegistryError::Setup { reason };
    let pem = std::fs::read(file)
        .map_err(|e| setup(format!("reading CA file `{}`: {e}", file.display())))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| setup(format!("CA file `{}`: {e}", file.display())))?;
    if certificates.is_empty() {
        return Err(setup(format!(
            "CA file `{}` holds no PEM certificate",
            file.display()
        )));
    }
    Ok(certificates)
}

fn provider() -> Arc<CryptoProvider> {
    crate::transport::install_crypto_provider();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// Checks server certificates against the platform's roots and the configured CA files,
/// built on first use. Signature checks of the handshake itself need no roots and go
/// straight to the provider.
#[derive(Debug)]
struct LazyRoots {
    extra_roots: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
}

impl LazyRoots {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra_roots.iter().cloned(),
                    Arc::clone(&self.provider),
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_not_loaded_until_a_certificate_is_checked() {
        let config = client_config(Vec::new());
        let _ = config;
        let lazy = LazyRoots {
            extra_roots: Vec::new(),
            provider: provider(),
            verifier: OnceLock::new(),
        };
        assert!(lazy.verifier.get().is_none());
        assert!(!lazy.supported_verify_schemes().is_empty());
        assert!(lazy.verifier.get().is_none(), "schemes need no roots");
        let _ = lazy.verifier();
        assert!(lazy.verifier.get().is_some());
    }

    #[test]
    fn an_empty_or_broken_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = read_ca_file(&empty).unwrap_err().to_string();
        assert!(error.contains("holds no PEM certificate"), "{error}");
        assert!(error.contains("empty.pem"), "{error}");
        let missing = dir.path().join("missing.pem");
        let error = read_ca_file(&missing).unwrap_err().to_string();
        assert!(error.contains("reading CA file"), "{error}");
    }
}
