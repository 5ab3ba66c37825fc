//! Rekor v1: `hashedrekord` and `dsse` 0.0.1 entries checked against the certificate
//! they carry, stored canonically (RFC 8785), logged in an RFC 6962 Merkle tree, and
//! answered with a signed entry timestamp, an inclusion proof and a signed checkpoint.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};

use super::keys::{self, Key};
use super::oidc::unix_now;
use super::server::{Request, Response};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One integrated entry.
#[derive(Debug, Clone)]
struct Entry {
    body: Vec<u8>,
    integrated_time: u64,
    leaf: [u8; 32],
}

/// The log.
pub(crate) struct Rekor {
    pub url: String,
    pub key: Key,
    tree_id: u64,
    entries: Mutex<Vec<Entry>>,
}

impl std::fmt::Debug for Rekor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rekor")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Either a client's mistake (4xx) or ours.
struct Refusal(u16, String);

impl<E: std::fmt::Display> From<E> for Refusal {
    fn from(error: E) -> Self {
        Self(400, error.to_string())
    }
}

impl Rekor {
    pub fn new(url: String) -> Result<Self> {
        let key = Key::generate()?;
        let tree_id = u64::from_be_bytes(key.key_id()[..8].try_into()?) >> 1;
        Ok(Self {
            url,
            key,
            tree_id,
            entries: Mutex::new(Vec::new()),
        })
    }

    /// The log ID: sha256 of the log key's SPKI, hex.
    pub fn log_id(&self) -> String {
        hex::encode(self.key.key_id())
    }

    /// How many entries the log holds.
    pub fn size(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The checkpoint origin: `host - treeID`, as Rekor writes it.
    fn origin(&self) -> String {
        format!("{} - {}", self.host(), self.tree_id)
    }

    fn host(&self) -> &str {
        self.url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, host)| host)
    }

    pub fn handle(&self, request: &Request) -> Response {
        let result = match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/api/v1/log/entries") => self.create(&request.body),
            ("POST", "/api/v1/log/entries/retrieve" | "/api/v1/log/entries/retrieve/") => {
                self.retrieve(&request.body)
            }
            ("GET", "/api/v1/log/entries") => match request
                .query_param("logIndex")
                .and_then(|i| i.parse::<usize>().ok())
            {
                Some(index) => self.entry_response(index, 200),
                None => Err(Refusal(400, "`logIndex` is required".into())),
            },
            ("GET", "/api/v1/log") => Ok(self.log_info()),
            ("GET", "/api/v1/log/publicKey") => Ok(Response {
                status: 200,
                content_type: "application/x-pem-file",
                headers: Vec::new(),
                body: keys::pem_block("PUBLIC KEY", &self.key.spki()).into_bytes(),
            }),
            ("GET", "/api/v1/log/proof") => self.consistency(request),
            ("GET", path) if path.starts_with("/api/v1/log/entries/") => {
                let uuid = &path["/api/v1/log/entries/".len()..];
                match self.index_of(uuid) {
                    Some(index) => self.entry_response(index, 200),
                    None => Err(Refusal(404, format!("no entry with UUID `{uuid}`"))),
                }
            }
            _ => Err(Refusal(404, format!("no route for `{}`", request.path))),
        };
        result.unwrap_or_else(|Refusal(status, message)| Response::error(status, &message))
    }

    fn create(&self, body: &[u8]) -> Result<Response, Refusal> {
        let proposed: Value = serde_json::from_slice(body)?;
        let canonical = canonical_body(&proposed)?;
        let leaf = leaf_hash(&canonical);
        let index = {
            let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(existing) = entries.iter().position(|e| e.leaf == leaf) {
                let uuid = hex::encode(leaf);
                return Ok(Response::error(
                    409,
                    &format!("an equivalent entry already exists in the transparency log with UUID {uuid}"),
                )
                .with_header("Location", format!("/api/v1/log/entries/{uuid}"))
                .with_header("X-Log-Index", existing.to_string()));
            }
            entries.push(Entry {
                body: canonical,
                integrated_time: unix_now(),
                leaf,
            });
            entries.len() - 1
        };
        let uuid = hex::encode(leaf);
        Ok(self
            .entry_response(index, 201)?
            .with_header("Location", format!("/api/v1/log/entries/{uuid}"))
            .with_header("ETag", uuid))
    }

    fn retrieve(&self, body: &[u8]) -> Result<Response, Refusal> {
        let query: Value = serde_json::from_slice(body)?;
        let mut indexes = Vec::new();
        for proposed in query["entries"].as_array().into_iter().flatten() {
            let leaf = leaf_hash(&canonical_body(proposed)?);
            indexes.extend(self.index_of(&hex::encode(leaf)));
        }
        for uuid in query["entryUUIDs"].as_array().into_iter().flatten() {
            indexes.extend(uuid.as_str().and_then(|u| self.index_of(u)));
        }
        for index in query["logIndexes"].as_array().into_iter().flatten() {
            let index = index.as_u64().and_then(|i| usize::try_from(i).ok());
            indexes.extend(index.filter(|i| *i < self.size()));
        }
        let found: Vec<Value> = indexes
            .into_iter()
            .map(|i| self.entry_map(i))
            .collect::<Result<_>>()
            .map_err(|e| Refusal(500, format!("{e:#}")))?;
        Ok(Response::json(200, &Value::Array(found)))
    }

    fn index_of(&self, uuid: &str) -> Option<usize> {
        // Rekor also answers the 80-character form: a 16-hex tree ID, then the leaf hash.
        let leaf = uuid.get(uuid.len().saturating_sub(64)..)?;
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .position(|e| hex::encode(e.leaf) == leaf)
    }

    fn entry_response(&self, index: usize, status: u16) -> Result<Response, Refusal> {
        if index >= self.size() {
            return Err(Refusal(404, format!("no entry at log index {index}")));
        }
        let map = self
            .entry_map(index)
            .map_err(|e| Refusal(500, format!("{e:#}")))?;
        Ok(Response::json(status, &map))
    }

    /// `{uuid: {body, integratedTime, logID, logIndex, verification}}` with the proof
    /// against the log as it stands now.
    fn entry_map(&self, index: usize) -> Result<Value> {
        let (entry, leaves) = {
            let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
            let leaves: Vec<[u8; 32]> = entries.iter().map(|e| e.leaf).collect();
            (entries[index].clone(), leaves)
        };
        let body = B64.encode(&entry.body);
        let set_payload = json!({
            "body": body,
            "integratedTime": entry.integrated_time,
            "logID": self.log_id(),
            "logIndex": index,
        });
        let set = self.key.sign(canonical_json(&set_payload).as_bytes())?;
        let root = tree_hash(&leaves);
        let proof: Vec<String> = inclusion_proof(index, &leaves)
            .iter()
            .map(hex::encode)
            .collect();
        let uuid = hex::encode(entry.leaf);
        Ok(json!({ uuid: {
            "body": body,
            "integratedTime": entry.integrated_time,
            "logID": self.log_id(),
            "logIndex": index,
            "verification": {
                "signedEntryTimestamp": B64.encode(set),
                "inclusionProof": {
                    "logIndex": index,
                    "treeSize": leaves.len(),
                    "rootHash": hex::encode(root),
                    "hashes": proof,
                    "checkpoint": self.checkpoint(leaves.len(), &root)?,
                },
            },
        }}))
    }

    /// A signed note: origin, size, base64 root, blank line, `— name base64(hint || sig)`.
    pub fn checkpoint(&self, size: usize, root: &[u8; 32]) -> Result<String> {
        let note = format!("{}\n{size}\n{}\n", self.origin(), B64.encode(root));
        let mut signature = self.key.key_id()[..4].to_vec();
        signature.extend(self.key.sign(note.as_bytes())?);
        Ok(format!(
            "{note}\n\u{2014} {} {}\n",
            self.host(),
            B64.encode(signature)
        ))
    }

    fn log_info(&self) -> Response {
        let leaves: Vec<[u8; 32]> = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|e| e.leaf)
            .collect();
        let root = tree_hash(&leaves);
        match self.checkpoint(leaves.len(), &root) {
            Ok(checkpoint) => Response::json(
                200,
                &json!({
                    "rootHash": hex::encode(root),
                    "treeSize": leaves.len(),
                    "signedTreeHead": checkpoint,
                    "treeID": self.tree_id.to_string(),
                    "inactiveShards": [],
                }),
            ),
            Err(error) => Response::error(500, &format!("{error:#}")),
        }
    }

    fn consistency(&self, request: &Request) -> Result<Response, Refusal> {
        let leaves: Vec<[u8; 32]> = self
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|e| e.leaf)
            .collect();
        let first: usize = request
            .query_param("firstSize")
            .map_or(Ok(1), |v| v.parse())?;
        let last: usize = request
            .query_param("lastSize")
            .map_or(Ok(leaves.len()), |v| v.parse())?;
        if first == 0 || first > last || last > leaves.len() {
            return Err(Refusal(
                400,
                format!(
                    "no consistency proof from size {first} to {last} in a log of {}",
                    leaves.len()
                ),
            ));
        }
        let hashes: Vec<String> = consistency_proof(first, &leaves[..last])
            .iter()
            .map(hex::encode)
            .collect();
        Ok(Response::json(
            200,
            &json!({ "rootHash": hex::encode(tree_hash(&leaves[..last])), "hashes": hashes }),
        ))
    }
}

/// What Rekor stores for a proposed entry, as canonical JSON bytes, after checking its
/// signature against the certificate it carries.
fn canonical_body(proposed: &Value) -> Result<Vec<u8>> {
    let kind = proposed["kind"].as_str().unwrap_or("");
    let version = proposed["apiVersion"].as_str().unwrap_or("");
    let spec = &proposed["spec"];
    let stored = match (kind, version) {
        ("hashedrekord", "0.0.1") => {
            let algorithm = spec["data"]["hash"]["algorithm"].as_str().unwrap_or("");
            if algorithm != "sha256" {
                bail!("hashedrekord hash algorithm `{algorithm}` is not supported (sha256 only)");
            }
            let digest_hex = spec["data"]["hash"]["value"]
                .as_str()
                .context("hashedrekord: missing `spec.data.hash.value`")?;
            let digest = hex::decode(digest_hex)
                .ok()
                .filter(|d| d.len() == 32)
                .with_context(|| format!("hashedrekord digest `{digest_hex}` is not 64 hex"))?;
            let signature_b64 = spec["signature"]["content"]
                .as_str()
                .context("hashedrekord: missing `spec.signature.content`")?;
            let key_b64 = spec["signature"]["publicKey"]["content"]
                .as_str()
                .context("hashedrekord: missing `spec.signature.publicKey.content`")?;
            let spki = verifier_key(key_b64)?;
            keys::verify_digest(&spki, &digest, &B64.decode(signature_b64)?)
                .context("hashedrekord: the signature does not verify over the digest")?;
            json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": { "hash": { "algorithm": "sha256", "value": digest_hex.to_ascii_lowercase() } },
                    "signature": { "content": signature_b64, "publicKey": { "content": canonical_verifier(key_b64)? } },
                },
            })
        }
        ("dsse", "0.0.1") => {
            let content = &spec["proposedContent"];
            let envelope_text = content["envelope"]
                .as_str()
                .context("dsse: missing `spec.proposedContent.envelope`")?;
            let envelope: Value =
                serde_json::from_str(envelope_text).context("dsse: the envelope is not JSON")?;
            let payload_type = envelope["payloadType"].as_str().unwrap_or("");
            let payload = B64
                .decode(envelope["payload"].as_str().unwrap_or(""))
                .context("dsse: the payload is not base64")?;
            let pae = pae(payload_type, &payload);
            let verifiers: Vec<(&str, Vec<u8>)> = content["verifiers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|v| Ok((v, verifier_key(v)?)))
                .collect::<Result<_>>()?;
            let mut signatures = Vec::new();
            let sigs = envelope["signatures"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if sigs.is_empty() {
                bail!("dsse: the envelope has no signatures");
            }
            for sig in &sigs {
                let sig_b64 = sig["sig"].as_str().unwrap_or("");
                let raw = B64
                    .decode(sig_b64)
                    .context("dsse: a signature is not base64")?;
                let verifier = verifiers
                    .iter()
                    .find(|(_, spki)| keys::verify(spki, &pae, &raw).is_ok())
                    .with_context(|| format!("dsse: no verifier verifies signature `{sig_b64}`"))?;
                signatures.push(
                    json!({ "signature": sig_b64, "verifier": canonical_verifier(verifier.0)? }),
                );
            }
            signatures.sort_by(|a, b| a["signature"].as_str().cmp(&b["signature"].as_str()));
            json!({
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope_text)) },
                    "payloadHash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload)) },
                    "signatures": signatures,
                },
            })
        }
        _ => bail!(
            "entry kind `{kind}` version `{version}` is not supported (hashedrekord or dsse 0.0.1)"
        ),
    };
    Ok(canonical_json(&stored).into_bytes())
}

/// A base64 PEM certificate or public key as Rekor stores it: decoded and encoded again
/// (LF line ends, 64 columns), whatever line ends the client sent — what verifiers compare
/// against the certificate in a bundle.
fn canonical_verifier(b64_pem: &str) -> Result<String> {
    let pem = String::from_utf8(B64.decode(b64_pem).context("a verifier is not base64")?)
        .context("a verifier is not PEM text")?;
    let label = if pem.contains("BEGIN CERTIFICATE") {
        "CERTIFICATE"
    } else {
        "PUBLIC KEY"
    };
    let der = keys::pem_decode(&pem, label)?;
    Ok(B64.encode(keys::pem_block(label, &der)))
}

/// The SPKI of a base64 PEM certificate or public key.
fn verifier_key(b64_pem: &str) -> Result<Vec<u8>> {
    let pem = String::from_utf8(B64.decode(b64_pem).context("a verifier is not base64")?)
        .context("a verifier is not PEM text")?;
    if pem.contains("BEGIN CERTIFICATE") {
        let cert = keys::pem_decode(&pem, "CERTIFICATE")?;
        super::der::certificate_spki(&cert).map(<[u8]>::to_vec)
    } else {
        keys::pem_decode(&pem, "PUBLIC KEY")
    }
}

#[cfg(test)]
mod verifier_tests {
    use super::*;

    #[test]
    fn verifiers_are_stored_with_lf_line_ends_whatever_the_client_sent() {
        let der: Vec<u8> = (0..100u8).collect();
        let lf = keys::pem_block("CERTIFICATE", &der);
        let crlf = lf.replace('\n', "\r\n");
        assert_ne!(lf, crlf);
        let stored = canonical_verifier(&B64.encode(&crlf)).unwrap();
        assert_eq!(B64.decode(stored).unwrap(), lf.as_bytes());
    }
}

/// DSSE's pre-authentication encoding.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// RFC 8785 for the values the stack writes: sorted keys, no spaces, integers.
pub(crate) fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let members: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical_json(v)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// Largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// RFC 6962 MTH over leaf hashes.
pub(crate) fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// RFC 6962 PATH(m, D[n]), leaf to root.
pub(crate) fn inclusion_proof(index: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if index < k {
        let mut path = inclusion_proof(index, &leaves[..k]);
        path.push(tree_hash(&leaves[k..]));
        path
    } else {
        let mut path = inclusion_proof(index - k, &leaves[k..]);
        path.push(tree_hash(&leaves[..k]));
        path
    }
}

/// RFC 6962 PROOF(m, D[n]).
pub(crate) fn consistency_proof(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    fn subproof(m: usize, leaves: &[[u8; 32]], complete: bool) -> Vec<[u8; 32]> {
        let n = leaves.len();
        if m == n {
            return if complete {
                Vec::new()
            } else {
                vec![tree_hash(leaves)]
            };
        }
        let k = split(n);
        if m <= k {
            let mut proof = subproof(m, &leaves[..k], complete);
            proof.push(tree_hash(&leaves[k..]));
            proof
        } else {
            let mut proof = subproof(m - k, &leaves[k..], false);
            proof.push(tree_hash(&leaves[..k]));
            proof
        }
    }
    if m == 0 || m >= leaves.len() {
        return Vec::new();
    }
    subproof(m, leaves, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n).map(|i| leaf_hash(&[i as u8])).collect()
    }

    /// Walks an inclusion proof back to the root (RFC 9162 §2.1.3.2).
    fn root_from_proof(index: usize, size: usize, leaf: [u8; 32], proof: &[[u8; 32]]) -> [u8; 32] {
        let (mut fnode, mut snode) = (index, size - 1);
        let mut hash = leaf;
        for sibling in proof {
            if fnode % 2 == 1 || fnode == snode {
                hash = node_hash(sibling, &hash);
                while fnode % 2 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            } else {
                hash = node_hash(&hash, sibling);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        hash
    }

    #[test]
    fn inclusion_proofs_lead_to_the_root_for_every_leaf_and_size() {
        for size in 1..=9 {
            let leaves = leaves(size);
            let root = tree_hash(&leaves);
            for index in 0..size {
                let proof = inclusion_proof(index, &leaves);
                assert_eq!(
                    root_from_proof(index, size, leaves[index], &proof),
                    root,
                    "leaf {index} of {size}"
                );
            }
        }
    }

    #[test]
    fn a_three_leaf_tree_hashes_as_rfc_6962_says() {
        let l = leaves(3);
        assert_eq!(tree_hash(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
        assert_eq!(consistency_proof(2, &l), vec![l[2]]);
        assert_eq!(
            consistency_proof(1, &l),
            vec![l[1], l[2]],
            "from a one-leaf tree: the sibling, then the right subtree"
        );
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = json!({ "b": 1, "a": { "z": "x", "c": [2, { "y": 1, "x": 2 }] } });
        assert_eq!(
            canonical_json(&value),
            r#"{"a":{"c":[2,{"x":2,"y":1}],"z":"x"},"b":1}"#
        );
    }

    #[test]
    fn pae_follows_dsse_v1() {
        assert_eq!(
            pae("application/vnd.in-toto+json", b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}"
        );
    }

    #[test]
    fn checkpoints_are_signed_notes() {
        let rekor = Rekor::new("http://127.0.0.1:9".into()).unwrap();
        let root = tree_hash(&leaves(2));
        let text = rekor.checkpoint(2, &root).unwrap();
        let (note, signature_line) = text.split_once("\n\n").unwrap();
        let note = format!("{note}\n");
        assert!(note.starts_with("127.0.0.1:9 - "));
        assert!(note.ends_with(&format!("\n2\n{}\n", B64.encode(root))));
        let signature = signature_line
            .strip_prefix("\u{2014} 127.0.0.1:9 ")
            .unwrap()
            .trim_end();
        let signature = B64.decode(signature).unwrap();
        assert_eq!(&signature[..4], &rekor.key.key_id()[..4]);
        keys::verify(&rekor.key.spki(), note.as_bytes(), &signature[4..]).unwrap();
    }
}
