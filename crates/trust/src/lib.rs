//! Sigstore signing and verification for portcullis: identity tokens from the CI or the
//! user, keyless (Fulcio + Rekor) and key-based signatures, in-toto attestations, the OCI
//! layouts cosign reads, and verification that returns the signer identities it proved.

pub mod oci;
mod provenance;
pub mod statement;
