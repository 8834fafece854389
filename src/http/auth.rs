//! HTTP basic auth. `/health` and `/info` never ask for credentials (probes and load
//! balancers call them); with `AUTH_ANONYMOUS_GET` reads need none either.

use base64::Engine;
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{HeaderMap, StatusCode};

use super::response::{self, Reply};

/// What a route asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Open,
    Pull,
    Push,
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

    /// `None` when the request may go on, the 401 answer otherwise.
    pub fn check(&self, access: Access, headers: &HeaderMap) -> Option<Reply> {
        if access == Access::Open || access == Access::Pull && self.anonymous_pull || self.accepts(headers) {
            return None;
        }
        let mut reply = response::error(StatusCode::UNAUTHORIZED, "unauthorized");
        reply.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"ChartHall\""));
        Some(reply)
    }

    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((scheme, encoded)) = value.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
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
