//! The OIDC issuer: discovery document, JWKS, ES256 ID tokens with GitHub Actions or
//! GitLab CI claims, and a token endpoint shaped like GitHub's
//! `ACTIONS_ID_TOKEN_REQUEST_URL` (`GET …&audience=sigstore` → `{"value": JWT}`).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _, Result};
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::keys::{self, Key};
use super::server::{Request, Response};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The claims of an ID token, starting from a CI provider's shape. `iss`, `aud`
/// (`sigstore`), `iat`, `nbf` and `exp` are filled in when minting unless set here.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(Map<String, Value>);

impl Claims {
    /// A GitHub Actions token for a `push` to `main` of `repository` (`org/repo`),
    /// running `.github/workflows/release.yml` on a GitHub-hosted runner.
    #[must_use]
    pub fn github(repository: &str) -> Self {
        let owner = repository.split('/').next().unwrap_or(repository);
        let sha = "8f4e3c2b1a0918273645546372819aabbccddeef";
        let workflow = format!("{repository}/.github/workflows/release.yml@refs/heads/main");
        Self::from_pairs(&[
            ("sub", format!("repo:{repository}:ref:refs/heads/main")),
            ("ref", "refs/heads/main".into()),
            ("ref_type", "branch".into()),
            ("ref_protected", "true".into()),
            ("sha", sha.into()),
            ("repository", repository.into()),
            ("repository_id", "100200300".into()),
            ("repository_owner", owner.into()),
            ("repository_owner_id", "4005006".into()),
            ("repository_visibility", "public".into()),
            ("actor", "octocat".into()),
            ("actor_id", "583231".into()),
            ("workflow", "release".into()),
            ("workflow_ref", workflow.clone()),
            ("workflow_sha", sha.into()),
            ("job_workflow_ref", workflow),
            ("job_workflow_sha", sha.into()),
            ("event_name", "push".into()),
            ("run_id", "7001".into()),
            ("run_number", "12".into()),
            ("run_attempt", "1".into()),
            ("runner_environment", "github-hosted".into()),
            ("head_ref", String::new()),
            ("base_ref", String::new()),
        ])
    }

    /// A GitLab CI token for a `push` pipeline on `main` of `project_path`
    /// (`group/project`) whose config is the project's `.gitlab-ci.yml`.
    #[must_use]
    pub fn gitlab(project_path: &str) -> Self {
        let namespace = project_path.rsplit_once('/').map_or("", |(ns, _)| ns);
        let sha = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d";
        Self::from_pairs(&[
            (
                "sub",
                format!("project_path:{project_path}:ref_type:branch:ref:main"),
            ),
            ("namespace_id", "72".into()),
            ("namespace_path", namespace.into()),
            ("project_id", "4242".into()),
            ("project_path", project_path.into()),
            ("project_visibility", "public".into()),
            ("user_id", "17".into()),
            ("user_login", "maintainer".into()),
            ("pipeline_id", "880011".into()),
            ("pipeline_source", "push".into()),
            ("job_id", "990022".into()),
            ("ref", "main".into()),
            ("ref_type", "branch".into()),
            ("ref_path", "refs/heads/main".into()),
            ("ref_protected", "true".into()),
            ("runner_id", "12270837".into()),
            ("runner_environment", "gitlab-hosted".into()),
            ("sha", sha.into()),
            (
                "ci_config_ref_uri",
                format!("gitlab.com/{project_path}//.gitlab-ci.yml@refs/heads/main"),
            ),
            ("ci_config_sha", sha.into()),
        ])
    }

    /// A person's token: Fulcio certifies the verified `email`.
    #[must_use]
    pub fn email(email: &str) -> Self {
        Self::from_pairs(&[("sub", email.into()), ("email", email.into())])
            .set("email_verified", true)
    }

    fn from_pairs(pairs: &[(&str, String)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect(),
        )
    }

    /// Sets (or replaces) a claim.
    #[must_use]
    pub fn set(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim.
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.0.remove(name);
        self
    }

    /// A claim's string value.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    pub(crate) fn map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// The issuer: its URL (the `iss` of its tokens) and its signing key.
pub(crate) struct Issuer {
    pub url: String,
    key: Key,
    kid: String,
    /// What the token endpoint wants in `Authorization: bearer …`, as GitHub's
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub request_token: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    pub fn new(url: String) -> Result<Self> {
        let key = Key::generate()?;
        let kid = hex::encode(&key.key_id()[..8]);
        let request_token = format!("request-{}", hex::encode(&Key::generate()?.key_id()[..12]));
        Ok(Self {
            url,
            key,
            kid,
            request_token,
        })
    }

    /// Mints an ES256 token with `claims`, filling in what they leave out.
    pub fn mint(&self, claims: &Claims) -> Result<String> {
        let now = unix_now();
        let mut body = claims.map().clone();
        let defaults = [
            ("iss", json!(self.url)),
            ("aud", json!("sigstore")),
            ("iat", json!(now)),
            ("nbf", json!(now)),
            ("exp", json!(now + 600)),
            ("jti", json!(format!("{:x}{:x}", now, body.len()))),
        ];
        for (name, value) in defaults {
            body.entry(name).or_insert(value);
        }
        let header = json!({ "alg": "ES256", "typ": "JWT", "kid": self.kid });
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(Value::Object(body).to_string())
        );
        let signature = self.key.sign_jws(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", B64URL.encode(signature)))
    }

    /// Verifies a token as Fulcio does: ES256 signature with this issuer's key, `iss`
    /// among `accepted_issuers`, audience `sigstore`, not expired.
    pub fn verify(&self, token: &str, accepted_issuers: &[String]) -> Result<Claims> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!("the identity token is not a JWS compact serialization (three parts)");
        };
        let header: Value = serde_json::from_slice(&B64URL.decode(header)?)
            .context("the identity token's header is not JSON")?;
        if header["alg"] != "ES256" {
            bail!("identity token algorithm `{}` is not ES256", header["alg"]);
        }
        let signature = B64URL.decode(signature)?;
        let signed = &token[..token.len() - token.rsplit('.').next().unwrap_or("").len() - 1];
        keys::verify_jws(&self.key.spki(), signed.as_bytes(), &signature)
            .context("the identity token's signature does not verify with the issuer's key")?;
        let claims: Map<String, Value> = serde_json::from_slice(&B64URL.decode(claims)?)
            .context("the identity token's claims are not a JSON object")?;
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
        if !accepted_issuers.iter().any(|known| known == iss) {
            bail!("identity token issuer `{iss}` is not trusted by this Fulcio");
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == "sigstore",
            Some(Value::Array(auds)) => auds.iter().any(|a| a == "sigstore"),
            _ => false,
        };
        if !audience_ok {
            bail!("identity token audience is not `sigstore`");
        }
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        if exp <= unix_now() {
            bail!("the identity token expired at {exp}");
        }
        Ok(Claims(claims))
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        let (x, y) = self.key.coordinates();
        json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": B64URL.encode(x), "y": B64URL.encode(y),
        }]})
    }

    /// Answers discovery, JWKS and token requests.
    pub fn handle(&self, request: &Request, claims: &dyn Fn(&Request) -> Claims) -> Response {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/.well-known/openid-configuration") => Response::json(
                200,
                &json!({
                    "issuer": self.url,
                    "jwks_uri": format!("{}/.well-known/jwks", self.url),
                    "token_endpoint": format!("{}/token", self.url),
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public", "pairwise"],
                    "id_token_signing_alg_values_supported": ["ES256"],
                    "scopes_supported": ["openid"],
                    "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf",
                        "ref", "sha", "repository", "repository_owner", "job_workflow_ref",
                        "workflow_ref", "event_name", "runner_environment", "project_path",
                        "namespace_path", "ci_config_ref_uri", "pipeline_source", "email"],
                }),
            ),
            ("GET", "/.well-known/jwks") => Response::json(200, &self.jwks()),
            ("GET", "/token") => {
                if let Some(auth) = request.header("authorization") {
                    let presented = auth
                        .split_once(' ')
                        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                        .map(|(_, value)| value.trim());
                    if presented != Some(self.request_token.as_str()) {
                        return Response::error(401, "the request token is not valid");
                    }
                }
                let mut claims = claims(request);
                if let Some(audience) = request.query_param("audience") {
                    claims = claims.set("aud", audience);
                }
                match self.mint(&claims) {
                    Ok(token) => Response::json(200, &json!({ "count": 1, "value": token })),
                    Err(error) => Response::error(500, &format!("{error:#}")),
                }
            }
            _ => Response::error(404, &format!("no route for `{}`", request.path)),
        }
    }
}

/// Claims for a token endpoint request: `?flavor=github|gitlab|email` (GitHub by
/// default), with `repository`, `project_path` or `email` naming who.
pub(crate) fn claims_for(request: &Request) -> Claims {
    match request.query_param("flavor").as_deref() {
        Some("gitlab") => Claims::gitlab(
            &request
                .query_param("project_path")
                .unwrap_or_else(|| "group/project".into()),
        ),
        Some("email") => Claims::email(
            &request
                .query_param("email")
                .unwrap_or_else(|| "signer@example.com".into()),
        ),
        _ => Claims::github(
            &request
                .query_param("repository")
                .unwrap_or_else(|| "org/repo".into()),
        ),
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        Issuer::new("http://127.0.0.1:1".into()).unwrap()
    }

    #[test]
    fn minted_tokens_verify_with_defaults_filled_in() {
        let issuer = issuer();
        let token = issuer.mint(&Claims::github("acme/app")).unwrap();
        let claims = issuer
            .verify(&token, std::slice::from_ref(&issuer.url))
            .unwrap();
        assert_eq!(claims.get("iss"), Some("http://127.0.0.1:1"));
        assert_eq!(claims.get("aud"), Some("sigstore"));
        assert_eq!(claims.get("sub"), Some("repo:acme/app:ref:refs/heads/main"));
        assert_eq!(
            claims.get("job_workflow_ref"),
            Some("acme/app/.github/workflows/release.yml@refs/heads/main")
        );
    }

    #[test]
    fn foreign_keys_issuers_audiences_and_expiry_are_refused() {
        let issuer = issuer();
        let trusted = [issuer.url.clone()];
        let other = Issuer::new(issuer.url.clone()).unwrap();
        let forged = other.mint(&Claims::github("acme/app")).unwrap();
        assert!(issuer.verify(&forged, &trusted).is_err());
        let elsewhere = issuer
            .mint(&Claims::github("acme/app").set("iss", "https://evil.example"))
            .unwrap();
        let error = issuer.verify(&elsewhere, &trusted).unwrap_err();
        assert!(format!("{error:#}").contains("`https://evil.example`"));
        let audience = issuer
            .mint(&Claims::gitlab("g/p").set("aud", "other"))
            .unwrap();
        assert!(issuer.verify(&audience, &trusted).is_err());
        let expired = issuer
            .mint(&Claims::email("a@example.com").set("exp", 1))
            .unwrap();
        assert!(issuer.verify(&expired, &trusted).is_err());
    }
}
