//! Conditional requests (RFC 9110 §13): whether the client's copy is still current, so
//! the answer can be a `304` with no body.

use std::time::{Duration, SystemTime};

use hyper::header::{HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH};

/// `If-None-Match` against `etag` when sent (it wins), else `If-Modified-Since` against
/// `modified` when both are known.
pub fn is_fresh(headers: &HeaderMap, etag: &HeaderValue, modified: Option<SystemTime>) -> bool {
    if let Some(tags) = headers.get(IF_NONE_MATCH) {
        return etag_matches(tags, etag);
    }
    let since = headers.get(IF_MODIFIED_SINCE).and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok());
    since.zip(modified).is_some_and(|(since, modified)| not_modified_since(modified, since))
}

/// `*` or any listed tag equal to ours (weak comparison, as RFC 9110 asks for this header).
fn etag_matches(header: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(header) = header.to_str() else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    header.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == ours)
}

/// HTTP dates have whole seconds; `modified` counts as its second.
fn not_modified_since(modified: SystemTime, since: SystemTime) -> bool {
    let modified = modified.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let since = since.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    Duration::from_secs(modified.as_secs()) <= since
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let etag = HeaderValue::from_static("\"abc\"");
        let mut headers = HeaderMap::new();
        assert!(!is_fresh(&headers, &etag, Some(SystemTime::now())));
        headers.insert(IF_MODIFIED_SINCE, HeaderValue::from_static("Mon, 01 Jan 2024 00:00:00 GMT"));
        assert!(!is_fresh(&headers, &etag, Some(SystemTime::now())), "modified since");
        assert!(is_fresh(&headers, &etag, Some(SystemTime::UNIX_EPOCH)));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(is_fresh(&headers, &etag, Some(SystemTime::now())), "the tag decides");
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\""));
        assert!(!is_fresh(&headers, &etag, Some(SystemTime::UNIX_EPOCH)), "the tag decides");
    }
}
