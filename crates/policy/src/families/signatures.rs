//! Whose signatures are trusted: `[trust]` and its `[[trust.signer]]` entries →
//! `signature-missing`, `signature-invalid`. The check comes with `verify`, which gathers
//! the signatures; the section is read and validated here today.

use portcullis_reference::Pattern;
use schemars::JsonSchema;

use crate::config::reader::{Reader, Section};
use crate::config::sections::{pattern, regex_key};
use crate::config::settings::Spanned;
use crate::config::ConfigSite;

/// `[trust]`: whose signatures are accepted.
#[derive(Debug, Clone, Default, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct TrustSettings {
    /// `[[trust.signer]]` entries.
    #[schemars(rename = "signer")]
    pub signers: Vec<Signer>,
}

/// `[[trust.signer]]`: a Sigstore identity trusted for some images.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Signer {
    /// Images this signer vouches for (empty: every image).
    #[schemars(with = "Vec<String>", default)]
    pub images: Vec<Spanned<Pattern>>,
    /// Exact OIDC issuer.
    #[schemars(with = "Option<String>")]
    pub issuer: Option<Spanned<String>>,
    /// Issuer regular expression.
    #[schemars(with = "Option<String>")]
    pub issuer_regex: Option<Spanned<String>>,
    /// Exact certificate identity (SAN).
    #[schemars(with = "Option<String>")]
    pub identity: Option<Spanned<String>>,
    /// Identity regular expression.
    #[schemars(with = "Option<String>")]
    pub identity_regex: Option<Spanned<String>>,
    #[schemars(skip)]
    pub site: Option<ConfigSite>,
}

pub(crate) fn read(reader: &mut Reader<'_>, section: &Section<'_>) -> TrustSettings {
    reader.check_keys(section, &["signer"]);
    let mut trust = TrustSettings::default();
    for signer in &reader.tables(section, "signer", "[[trust.signer]]") {
        reader.check_keys(
            signer,
            &[
                "images",
                "issuer",
                "identity",
                "identity-regex",
                "issuer-regex",
            ],
        );
        let images = reader
            .converted(signer, "images", pattern)
            .map(|(v, _)| v)
            .unwrap_or_default();
        let issuer = reader.non_empty_string(signer, "issuer");
        let issuer_regex = regex_key(reader, signer, "issuer-regex");
        let identity = reader.non_empty_string(signer, "identity");
        let identity_regex = regex_key(reader, signer, "identity-regex");
        let present = |key: &str| Reader::entry(signer, key).is_some();
        if !present("issuer") && !present("issuer-regex") {
            reader.error(
                signer.span.as_ref(),
                "`[[trust.signer]]` needs `issuer` or `issuer-regex`".to_owned(),
            );
        }
        if !present("identity") && !present("identity-regex") {
            reader.error(
                signer.span.as_ref(),
                "`[[trust.signer]]` needs `identity` or `identity-regex`".to_owned(),
            );
        }
        let site = reader.site(signer.span.clone(), "signer declared here".to_owned());
        trust.signers.push(Signer {
            images,
            issuer,
            issuer_regex,
            identity,
            identity_regex,
            site,
        });
    }
    trust
}
