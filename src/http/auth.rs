//! Who may do what: HTTP basic auth, or bearer tokens as ChartMuseum checks them.
//!
//! `/health` and `/info` never ask for credentials (probes and load balancers call them);
//! with `AUTH_ANONYMOUS_GET` reads need none either. Bearer auth takes precedence over
//! basic, as in ChartMuseum: a token is an RS256 JWT signed by the token service whose
//! public key is `AUTH_CERT_PATH`, and lists what it allows per repository:
//! `{"access": [{"type": "artifact-repository", "name": "<repo>", "actions": ["pull"]}]}`.

use base64::Engine;
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::response::{self, Reply};
use crate::config::Config;

/// What a route asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Open,
    Pull,
    Push,
}

impl Access {
    fn action(self) -> &'static str {
        match self {
            Access::Open => "",
            Access::Pull => "pull",
            Access::Push => "push",
        }
    }
}

/// The configured check, if any.
pub enum Auth {
    Basic(BasicAuth),
    Bearer(Box<BearerAuth>),
}

impl Auth {
    /// The check `config` asks for; an unreadable `AUTH_CERT_PATH` stops start-up.
    pub fn from_config(config: &Config) -> Result<Option<Auth>, String> {
        let anonymous_pull = config.auth_anonymous_get;
        if config.bearer_auth {
            let (Some(realm), Some(service), Some(key)) =
                (&config.auth_realm, &config.auth_service, &config.auth_cert_path)
            else {
                return Err("BEARER_AUTH needs AUTH_REALM, AUTH_SERVICE and AUTH_CERT_PATH".into());
            };
            let pem = std::fs::read(key).map_err(|e| format!("cannot read AUTH_CERT_PATH {}: {e}", key.display()))?;
            let key = issuer_key(&pem).map_err(|e| format!("AUTH_CERT_PATH {}: {e}", key.display()))?;
            return Ok(Some(Auth::Bearer(Box::new(BearerAuth::new(realm, service, key, anonymous_pull)))));
        }
        Ok(config.basic_auth().map(|(user, pass)| Auth::Basic(BasicAuth::new(user, pass, anonymous_pull))))
    }

    /// `None` when the request may go on, the 401 answer otherwise. `repo` is the
    /// repository the route addresses (`""` for none, or at depth 0).
    pub fn check(&self, access: Access, repo: &str, headers: &HeaderMap) -> Option<Reply> {
        let anonymous_pull = match self {
            Auth::Basic(basic) => basic.anonymous_pull,
            Auth::Bearer(bearer) => bearer.anonymous_pull,
        };
        if access == Access::Open || access == Access::Pull && anonymous_pull {
            return None;
        }
        let challenge = match self {
            Auth::Basic(basic) if basic.accepts(headers) => return None,
            Auth::Basic(_) => HeaderValue::from_static("Basic realm=\"ChartHall\""),
            Auth::Bearer(bearer) => bearer.check(access, repo, headers)?,
        };
        let mut reply = response::error(StatusCode::UNAUTHORIZED, "unauthorized");
        reply.headers_mut().insert(WWW_AUTHENTICATE, challenge);
        Some(reply)
    }
}

/// The token issuer's RSA key: a PEM public key, or the PEM certificate that holds it
/// (ChartMuseum's documentation hands `AUTH_CERT_PATH` a certificate).
fn issuer_key(pem: &[u8]) -> Result<jsonwebtoken::DecodingKey, String> {
    if let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(pem) {
        return Ok(key);
    }
    let not_rsa = "neither an RSA public key nor a certificate of one, in PEM";
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|_| not_rsa.to_string())?;
    let certificate = pem.parse_x509().map_err(|e| format!("{not_rsa}: {e}"))?;
    match certificate.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            Ok(jsonwebtoken::DecodingKey::from_rsa_raw_components(rsa.modulus, rsa.exponent))
        }
        _ => Err("the certificate's key is not an RSA key (tokens are RS256)".into()),
    }
}

/// The value of `Authorization: <scheme> <credentials>`, for `scheme`.
fn credentials<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (given, credentials) = value.trim().split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| credentials.trim())
}

pub struct BasicAuth {
    user: String,
    password: String,
    anonymous_pull: bool,
}

impl BasicAuth {
    pub fn new(user: &str, password: &str, anonymous_pull: bool) -> BasicAuth {
        BasicAuth { user: user.into(), password: password.into(), anonymous_pull }
    }

    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(encoded) = credentials(headers, "basic") else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        let Some((user, password)) = std::str::from_utf8(&decoded).ok().and_then(|s| s.split_once(':')) else {
            return false;
        };
        // Compare every byte whatever the first difference, so timing says nothing.
        constant_time_eq(user.as_bytes(), self.user.as_bytes())
            & constant_time_eq(password.as_bytes(), self.password.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// ChartMuseum's bearer tokens.
pub struct BearerAuth {
    realm: String,
    service: String,
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
    anonymous_pull: bool,
}

/// The part of a token's claims that says what it allows.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    access: Vec<AccessEntry>,
}

#[derive(Deserialize)]
struct AccessEntry {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

/// The access entry type ChartMuseum's tokens use for repositories.
const ENTRY_TYPE: &str = "artifact-repository";

impl BearerAuth {
    pub fn new(realm: &str, service: &str, key: jsonwebtoken::DecodingKey, anonymous_pull: bool) -> BearerAuth {
        // RS256 only, as ChartMuseum; `exp` and `nbf` are checked when present, and no
        // audience is demanded (ChartMuseum's tokens carry none it checks).
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_nbf = true;
        validation.validate_aud = false;
        BearerAuth { realm: realm.into(), service: service.into(), key, validation, anonymous_pull }
    }

    /// `None` when the token allows `access` on `repo`, else the challenge to answer with.
    fn check(&self, access: Access, repo: &str, headers: &HeaderMap) -> Option<HeaderValue> {
        // ChartMuseum names the repository of depth 0 (and of `/`) `repo` in tokens.
        let namespace = if repo.is_empty() { "repo" } else { repo };
        let action = access.action();
        let allowed = credentials(headers, "bearer")
            .and_then(|token| jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).ok())
            .is_some_and(|token| {
                token.claims.access.iter().any(|entry| {
                    entry.kind == ENTRY_TYPE && entry.name == namespace && entry.actions.iter().any(|a| a == action)
                })
            });
        if allowed {
            return None;
        }
        let challenge = format!(
            "Bearer realm=\"{}\",service=\"{}\",scope=\"{ENTRY_TYPE}:{namespace}:{action}\"",
            self.realm, self.service
        );
        Some(HeaderValue::from_str(&challenge).unwrap_or_else(|_| HeaderValue::from_static("Bearer")))
    }
}
