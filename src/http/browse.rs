//! `GET /` for a browser: the browse page — repositories, their charts (paged, filtered
//! by the server as you type) and each chart's versions with the `helm` commands to copy.
//!
//! One self-contained HTML document: its style and script are compiled into the binary
//! (`src/http/browse/`) and inlined, it uses the system's fonts and nothing from another
//! site except chart icons, so it works offline. The page reads the JSON API
//! (`/api/<repo>/summary` and `/api/<repo>/charts/<name>`); the server writes what it
//! needs to start — the context path, the repository names, whether the API is on — into
//! a JSON data block. Chart text reaches the page only as data, set with `textContent`;
//! the Content-Security-Policy lets only the page's own script and style run.
//!
//! Any other `Accept` keeps the original YAML list of repositories, byte for byte.

use std::sync::OnceLock;

use base64::Engine;
use hyper::header::{HeaderValue, ACCEPT, CACHE_CONTROL, VARY};
use hyper::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

use super::response::{self, Reply};
use super::{root, App};

const HTML: &str = include_str!("browse/page.html");
const STYLE: &str = include_str!("browse/page.css");
const SCRIPT: &str = include_str!("browse/page.js");

/// `GET /`: the browse page when the client asks for HTML, else the YAML list. Both vary
/// on `Accept`, so a cache keeps them apart.
pub fn root(app: &App, headers: &HeaderMap) -> Reply {
    let mut reply = if wants_html(headers) { page(app) } else { root::repositories(app) };
    reply.headers_mut().insert(VARY, HeaderValue::from_static("Accept"));
    reply
}

/// Whether `Accept` names `text/html` with a non-zero `q`, as browsers send it for a page.
/// Helm, curl and ChartMuseum clients do not, and keep getting YAML.
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get_all(ACCEPT).iter().filter_map(|value| value.to_str().ok()).flat_map(|value| value.split(',')).any(
        |item| {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim();
            let refused = parts.any(|param| {
                let (key, value) = param.split_once('=').unwrap_or((param, ""));
                key.trim().eq_ignore_ascii_case("q") && value.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("text/html") && !refused
        },
    )
}

/// The page's document cut around its configuration block, with the style and script in
/// place, and the Content-Security-Policy that allows exactly them: built once.
struct Template {
    before: String,
    after: String,
    policy: HeaderValue,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let html = HTML.replace("{{style}}", STYLE).replace("{{script}}", SCRIPT);
        let (before, after) = html.split_once("{{config}}").expect("page.html holds {{config}}");
        let hash = |text: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()));
        let policy = format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; img-src http: https: data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash(SCRIPT),
            hash(STYLE)
        );
        Template {
            before: before.to_string(),
            after: after.to_string(),
            policy: HeaderValue::from_str(&policy).expect("a policy of ASCII"),
        }
    })
}

fn page(app: &App) -> Reply {
    let template = template();
    let repositories: Vec<serde_json::Value> = (app.catalog.names().into_iter())
        .map(|name| serde_json::json!({ "charts": app.catalog.snapshot(&name).charts.len(), "name": name }))
        .collect();
    let config = serde_json::json!({
        "contextPath": app.config.context_path,
        "repositories": repositories,
        "api": !app.config.disable_api,
        "version": concat!("v", env!("CARGO_PKG_VERSION")),
    });
    let config = script_safe(&config.to_string());
    let body = [template.before.as_str(), &config, template.after.as_str()].concat();
    let mut reply = response::bytes(StatusCode::OK, HeaderValue::from_static("text/html; charset=utf-8"), body);
    let headers = reply.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("content-security-policy", template.policy.clone());
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    reply
}

/// JSON that cannot end the `<script>` element it sits in, whatever a repository is
/// named: `<`, `>` and `&` as `\u` escapes, which JSON reads back as the same text.
fn script_safe(json: &str) -> String {
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn html_only_when_accept_names_it() {
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
        assert!(wants_html(&accept(browser)));
        assert!(wants_html(&accept("TEXT/HTML; q=0.5")));
        assert!(!wants_html(&accept("text/html;q=0")));
        assert!(!wants_html(&accept("*/*")));
        assert!(!wants_html(&accept("application/x-yaml")));
        assert!(!wants_html(&HeaderMap::new()));
    }

    #[test]
    fn the_configuration_cannot_close_its_script() {
        let safe = script_safe(&serde_json::json!({"repositories": ["</script><b>&"]}).to_string());
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["repositories"][0], "</script><b>&");
    }

    #[test]
    fn the_template_has_its_parts() {
        let template = template();
        assert!(template.before.contains("<style>") && template.after.contains("<script>"));
        assert!(!template.before.contains("{{") && !template.after.contains("{{"));
    }
}
