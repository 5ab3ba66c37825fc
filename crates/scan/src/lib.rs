//! Runs scanner hooks (Trivy, Grype, Syft, any command), parses their reports into the
//! normalized vulnerability model of `portcullis-policy`, and merges them.
