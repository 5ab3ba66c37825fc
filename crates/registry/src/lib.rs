//! OCI distribution client for portcullis: auth keychain (anonymous bearer tokens, basic,
//! Docker `config.json`), retries with backoff, and tag → digest resolution. Copying and
//! referrers come later.
//!
//! INTERFACE STUB: the public API below is the contract other crates build against.
