//! The little DER the stack writes and reads itself: Fulcio's extension values, the
//! SAN, the SCT list, and walking a CSR, an SPKI or a certificate's TBS to the parts the
//! services check. Definite lengths only, as DER requires.

use anyhow::{bail, Context as _, Result};

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const UTF8_STRING: u8 = 0x0c;
/// `[3] EXPLICIT` around a TBS certificate's extensions.
pub(crate) const EXTENSIONS: u8 = 0xa3;

/// One TLV with a definite length.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn utf8_string(text: &str) -> Vec<u8> {
    tlv(UTF8_STRING, text.as_bytes())
}

/// A TLV read from a buffer: its tag, its content and the whole encoding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

/// Reads TLVs one after another.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn next(&mut self) -> Result<Tlv<'a>> {
        let data = self.rest;
        let (&tag, after) = data.split_first().context("DER: truncated before a tag")?;
        let (&first, mut after) = after.split_first().context("DER: truncated length")?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || after.len() < count {
                bail!("DER: unsupported length form 0x{first:02x}");
            }
            let len = after[..count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            after = &after[count..];
            len
        };
        if after.len() < len {
            bail!("DER: value of {len} bytes runs past the end");
        }
        let header = data.len() - after.len();
        self.rest = &after[len..];
        Ok(Tlv {
            tag,
            content: &after[..len],
            raw: &data[..header + len],
        })
    }

    /// The next TLV, which must carry `tag`.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv<'a>> {
        let tlv = self.next().with_context(|| format!("reading {what}"))?;
        if tlv.tag != tag {
            bail!("{what}: expected tag 0x{tag:02x}, found 0x{:02x}", tlv.tag);
        }
        Ok(tlv)
    }
}

/// The content octets of a DER OBJECT IDENTIFIER for `arcs`.
pub(crate) fn oid_content(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encode = |mut value: u64| {
        let mut chunk = vec![(value & 0x7f) as u8];
        value >>= 7;
        while value > 0 {
            chunk.push(0x80 | (value & 0x7f) as u8);
            value >>= 7;
        }
        chunk.reverse();
        out.extend(chunk);
    };
    encode(arcs[0] * 40 + arcs[1]);
    for arc in &arcs[2..] {
        encode(*arc);
    }
    out
}

/// A `SubjectPublicKeyInfo`'s key bits (for EC keys, the SEC1 point).
pub(crate) fn spki_key_bits(spki: &[u8]) -> Result<&[u8]> {
    let outer = Reader::new(spki).expect(SEQUENCE, "SubjectPublicKeyInfo")?;
    let mut fields = Reader::new(outer.content);
    fields.expect(SEQUENCE, "SubjectPublicKeyInfo algorithm")?;
    let bits = fields.expect(BIT_STRING, "SubjectPublicKeyInfo key")?;
    match bits.content.split_first() {
        Some((0, key)) => Ok(key),
        _ => bail!("SubjectPublicKeyInfo key: a BIT STRING with unused bits"),
    }
}

/// The parts of a PKCS#10 request the CA checks: the signed `CertificationRequestInfo`,
/// its SPKI and the signature over it.
#[derive(Debug)]
pub(crate) struct Csr<'a> {
    pub info: &'a [u8],
    pub spki: &'a [u8],
    pub signature: &'a [u8],
}

pub(crate) fn parse_csr(der: &[u8]) -> Result<Csr<'_>> {
    let outer = Reader::new(der).expect(SEQUENCE, "CertificationRequest")?;
    let mut parts = Reader::new(outer.content);
    let info = parts.expect(SEQUENCE, "CertificationRequestInfo")?;
    parts.expect(SEQUENCE, "signature algorithm")?;
    let signature = parts.expect(BIT_STRING, "signature")?;
    let mut info_fields = Reader::new(info.content);
    info_fields.next().context("CSR version")?;
    info_fields.expect(SEQUENCE, "CSR subject")?;
    let spki = info_fields.expect(SEQUENCE, "CSR subjectPKInfo")?;
    Ok(Csr {
        info: info.raw,
        spki: spki.raw,
        signature: signature.content.get(1..).unwrap_or_default(),
    })
}

/// A certificate's `tbsCertificate`, as signed.
pub(crate) fn tbs_certificate(cert: &[u8]) -> Result<&[u8]> {
    let outer = Reader::new(cert).expect(SEQUENCE, "Certificate")?;
    Ok(Reader::new(outer.content)
        .expect(SEQUENCE, "tbsCertificate")?
        .raw)
}

/// `tbs` without the extension whose OID content is `oid`: what a CT log signs for a
/// precertificate (the poison removed) and what a verifier rebuilds from the final
/// certificate (the SCT list removed).
pub(crate) fn tbs_without_extension(tbs: &[u8], oid: &[u8]) -> Result<Vec<u8>> {
    let outer = Reader::new(tbs).expect(SEQUENCE, "tbsCertificate")?;
    let mut fields = Reader::new(outer.content);
    let mut out = Vec::new();
    let mut removed = false;
    while !fields.is_empty() {
        let field = fields.next()?;
        if field.tag != EXTENSIONS {
            out.extend_from_slice(field.raw);
            continue;
        }
        let list = Reader::new(field.content).expect(SEQUENCE, "extensions")?;
        let mut extensions = Reader::new(list.content);
        let mut kept = Vec::new();
        while !extensions.is_empty() {
            let extension = extensions.expect(SEQUENCE, "extension")?;
            let id = Reader::new(extension.content).expect(0x06, "extension id")?;
            if id.content == oid {
                removed = true;
            } else {
                kept.extend_from_slice(extension.raw);
            }
        }
        out.extend(tlv(EXTENSIONS, &tlv(SEQUENCE, &kept)));
    }
    if !removed {
        bail!("the TBS certificate has no extension with the OID to remove");
    }
    Ok(tlv(SEQUENCE, &out))
}

/// A certificate's `SubjectPublicKeyInfo`, DER.
pub(crate) fn certificate_spki(cert: &[u8]) -> Result<&[u8]> {
    let tbs = Reader::new(tbs_certificate(cert)?).expect(SEQUENCE, "tbsCertificate")?;
    let mut fields = Reader::new(tbs.content);
    if fields.next()?.tag == 0xa0 {
        fields.next()?; // the serial, after the explicit version
    }
    for what in ["signature algorithm", "issuer", "validity", "subject"] {
        fields.expect(SEQUENCE, what)?;
    }
    Ok(fields.expect(SEQUENCE, "subjectPublicKeyInfo")?.raw)
}

#[cfg(test)]
/// The `extnValue` octets of the extension `oid` in a TBS certificate.
pub(crate) fn extension_value<'a>(tbs: &'a [u8], oid: &[u8]) -> Result<Option<&'a [u8]>> {
    let outer = Reader::new(tbs).expect(SEQUENCE, "tbsCertificate")?;
    let mut fields = Reader::new(outer.content);
    while !fields.is_empty() {
        let field = fields.next()?;
        if field.tag != EXTENSIONS {
            continue;
        }
        let list = Reader::new(field.content).expect(SEQUENCE, "extensions")?;
        let mut extensions = Reader::new(list.content);
        while !extensions.is_empty() {
            let extension = extensions.expect(SEQUENCE, "extension")?;
            let mut parts = Reader::new(extension.content);
            if parts.expect(0x06, "extension id")?.content != oid {
                continue;
            }
            let mut value = parts.next()?;
            if value.tag == 0x01 {
                value = parts.next()?;
            }
            return Ok(Some(value.content));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_round_trip() {
        let content = vec![7u8; 300];
        let encoded = tlv(OCTET_STRING, &content);
        assert_eq!(&encoded[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let read = Reader::new(&encoded).next().unwrap();
        assert_eq!(read.content, &content[..]);
        assert_eq!(read.raw, &encoded[..]);
    }

    #[test]
    fn oid_arcs_encode_as_base_128() {
        // 1.3.6.1.4.1.57264.1.8 as Fulcio's certificates carry it.
        assert_eq!(
            oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, 8]),
            [0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x08]
        );
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(Reader::new(&[0x30, 0x05, 0x01]).next().is_err());
        assert!(Reader::new(&[0x30]).next().is_err());
    }
}
