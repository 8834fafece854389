//! Black-box tests of every read route of SPEC.md: health and info, the repository list,
//! `index.yaml` (encodings, validators, ordering, entry fields), package downloads, the
//! JSON API (lists, paging, versions, templates, values), and the settings that reshape
//! routes (`DEPTH`, `CONTEXT_PATH`, `CHART_URL`, `DISABLE_API`).

mod common;
use common::*;

use base64::Engine;
use reqwest::header::{
    ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LAST_MODIFIED, VARY,
};

// ---------------------------------------------------------------------------------------
// helpers (local to this file; tests/common is shared)

fn head(server: &Server, path: &str) -> Response {
    client().head(server.url(path)).send().expect("HEAD")
}

/// A server with these `(name, version)` charts uploaded to repository `team`.
fn server_with(charts: &[(&str, &str)]) -> Server {
    let server = Server::in_process(&[]);
    for (name, version) in charts {
        put(&server, "team", &ChartBuilder::new(name, version).build());
    }
    server
}

fn api_get(server: &Server, path: &str) -> (StatusCode, serde_json::Value) {
    let response = server.get(path);
    let status = response.status();
    (status, json(response))
}

fn json_keys(value: &serde_json::Value) -> Vec<String> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().cloned().collect()
}

fn yaml_keys(value: &serde_yaml::Value) -> Vec<String> {
    value
        .as_mapping()
        .unwrap_or_else(|| panic!("not a mapping: {value:?}"))
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// /health, /info, /, /metrics, request ids

#[test]
fn health_answers_healthy_true() {
    let server = Server::in_process(&[]);
    let response = server.get("/health");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, CONTENT_TYPE).starts_with("application/json"));
    assert_eq!(json(response), serde_json::json!({"healthy": true}));
}

#[test]
fn info_answers_the_crate_version_with_a_v() {
    let server = Server::in_process(&[]);
    let response = server.get("/info");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response), serde_json::json!({"version": concat!("v", env!("CARGO_PKG_VERSION"))}));
    assert_eq!(concat!("v", env!("CARGO_PKG_VERSION")), "v0.1.0");
}

#[test]
fn root_lists_repositories_as_yaml() {
    let server = server_with(&[("web", "1.0.0")]);
    put(&server, "other", &ChartBuilder::new("db", "1.0.0").build());
    let response = server.get("/");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), "application/x-yaml");
    let body = response.text().unwrap();
    assert!(body.starts_with("---\nrepos:\n"), "{body:?}");
    let list = yaml(&body);
    let repos: Vec<&str> = list["repos"].as_sequence().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert!(repos.contains(&"team") && repos.contains(&"other"), "{body}");
}

#[test]
fn root_lists_no_repository_on_empty_storage() {
    let server = Server::in_process(&[]);
    let response = server.get("/");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().unwrap();
    assert!(body.starts_with("---\nrepos:"), "{body:?}");
    let list = yaml(&body);
    assert!(list["repos"].is_null() || list["repos"].as_sequence().is_some_and(|s| s.is_empty()), "{body}");
}

#[test]
fn reading_an_unknown_repository_does_not_create_it() {
    let server = server_with(&[("web", "1.0.0")]);
    assert_eq!(server.get("/ghost/index.yaml").status(), StatusCode::OK);
    assert_eq!(server.get("/api/ghost/charts").status(), StatusCode::OK);
    let body = server.get("/").text().unwrap();
    assert!(!body.contains("ghost"), "{body}");
    assert!(!server.root.join("ghost").exists());
}

#[test]
fn request_id_is_echoed_or_generated() {
    let server = Server::in_process(&[]);
    let response = client().get(server.url("/health")).header("X-Request-Id", "abc-123").send().unwrap();
    assert_eq!(header(&response, "x-request-id"), "abc-123");
    let first = header(&server.get("/team/index.yaml"), "x-request-id");
    let second = header(&server.get("/team/index.yaml"), "x-request-id");
    assert!(!first.is_empty());
    assert_ne!(first, second, "each request gets its own id, though the index headers are reused");
    let response = server.get("/api/team/charts/nope");
    assert!(!header(&response, "x-request-id").is_empty());
}

#[test]
fn unknown_path_answers_404_json() {
    let server = Server::in_process(&[]);
    let response = server.get("/team/something/else");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(json(response)["error"].as_str().unwrap().contains("not found"));
}

// ---------------------------------------------------------------------------------------
// index.yaml

#[test]
fn index_of_unknown_repository_is_empty() {
    let server = Server::in_process(&[]);
    let response = server.get("/nobody/index.yaml");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), "application/x-yaml");
    let body = response.text().unwrap();
    assert!(body.contains("entries: {}"), "{body}");
    let index = yaml(&body);
    assert_eq!(index["apiVersion"], "v1");
    assert!(index["generated"].as_str().is_some(), "{body}");
    assert_eq!(index["serverInfo"], serde_yaml::Value::Mapping(Default::default()));
}

#[test]
fn index_top_level_holds_only_helm_keys() {
    let server = server_with(&[("web", "1.0.0")]);
    let index = index_of(&server, "/team/index.yaml");
    let mut keys = yaml_keys(&index);
    keys.sort();
    assert_eq!(keys, ["apiVersion", "entries", "generated", "serverInfo"]);
}

#[test]
fn index_head_has_headers_and_length_of_get_but_no_body() {
    let server = server_with(&[("web", "1.0.0")]);
    let get = server.get("/team/index.yaml");
    let get_length = header(&get, CONTENT_LENGTH);
    let get_etag = header(&get, ETAG);
    let get_body = get.bytes().unwrap();
    assert_eq!(get_length, get_body.len().to_string());
    let response = head(&server, "/team/index.yaml");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), "application/x-yaml");
    assert_eq!(header(&response, CONTENT_LENGTH), get_length);
    assert_eq!(header(&response, ETAG), get_etag);
    assert!(response.bytes().unwrap().is_empty());
}

#[test]
fn index_is_never_gzipped_unasked() {
    let server = server_with(&[("web", "1.0.0")]);
    let response = server.get("/team/index.yaml");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, CONTENT_ENCODING).is_empty());
    let body = response.bytes().unwrap();
    assert!(body.starts_with(b"apiVersion: v1\n"), "{body:?}");
    // `identity` and `gzip;q=0` refuse gzip too.
    for refuse in ["identity", "gzip;q=0"] {
        let response = client().get(server.url("/team/index.yaml")).header("Accept-Encoding", refuse).send().unwrap();
        assert!(header(&response, CONTENT_ENCODING).is_empty(), "{refuse}");
        assert_eq!(response.bytes().unwrap(), body, "{refuse}");
    }
}

#[test]
fn index_is_gzipped_when_asked_and_unzips_to_the_identity_body() {
    let server = server_with(&[("web", "1.0.0")]);
    let identity = server.get("/team/index.yaml").bytes().unwrap();
    let response = get_gzip(&server, "/team/index.yaml");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_ENCODING), "gzip");
    assert_eq!(header(&response, CONTENT_TYPE), "application/x-yaml");
    let body = response.bytes().unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b]);
    assert_eq!(gunzip(&body), identity.to_vec());
}

#[test]
fn index_varies_on_accept_encoding_with_distinct_etags() {
    let server = server_with(&[("web", "1.0.0")]);
    let plain = server.get("/team/index.yaml");
    let zipped = get_gzip(&server, "/team/index.yaml");
    for response in [&plain, &zipped] {
        assert!(
            header(response, VARY).to_ascii_lowercase().contains("accept-encoding"),
            "Vary: {:?}",
            header(response, VARY)
        );
        assert!(!header(response, LAST_MODIFIED).is_empty());
    }
    let (a, b) = (header(&plain, ETAG), header(&zipped, ETAG));
    assert!(!a.is_empty() && !b.is_empty());
    assert_ne!(a, b, "one ETag for two encodings");
}

#[test]
fn if_none_match_with_current_etag_answers_304() {
    let server = server_with(&[("web", "1.0.0")]);
    for gzip in [false, true] {
        let first = if gzip { get_gzip(&server, "/team/index.yaml") } else { server.get("/team/index.yaml") };
        let etag = header(&first, ETAG);
        let mut request = client().get(server.url("/team/index.yaml")).header(IF_NONE_MATCH, &etag);
        if gzip {
            request = request.header("Accept-Encoding", "gzip");
        }
        let response = request.send().unwrap();
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "gzip={gzip}");
        assert_eq!(header(&response, ETAG), etag);
        assert!(response.bytes().unwrap().is_empty());
    }
}

#[test]
fn etag_changes_after_an_upload() {
    let server = server_with(&[("web", "1.0.0")]);
    let etag = header(&server.get("/team/index.yaml"), ETAG);
    let gzip_etag = header(&get_gzip(&server, "/team/index.yaml"), ETAG);
    put(&server, "team", &ChartBuilder::new("web", "1.1.0").build());
    let response = client().get(server.url("/team/index.yaml")).header(IF_NONE_MATCH, &etag).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_ne!(header(&response, ETAG), etag);
    let index = yaml(&response.text().unwrap());
    assert_eq!(index_versions(&index, "web"), ["1.1.0", "1.0.0"]);
    assert_ne!(header(&get_gzip(&server, "/team/index.yaml"), ETAG), gzip_etag);
}

#[test]
fn index_versions_are_newest_first_in_semver_order() {
    let server = server_with(&[
        ("web", "0.9.0"),
        ("web", "1.0.0-rc.1"),
        ("web", "0.10.0"),
        ("web", "1.0.0"),
        ("web", "0.1.0"),
        ("web", "0.10.1-alpha"),
    ]);
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["1.0.0", "1.0.0-rc.1", "0.10.1-alpha", "0.10.0", "0.9.0", "0.1.0"]);
    let (status, list) = api_get(&server, "/api/team/charts/web");
    assert_eq!(status, StatusCode::OK);
    let api: Vec<&str> = list.as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(api, ["1.0.0", "1.0.0-rc.1", "0.10.1-alpha", "0.10.0", "0.9.0", "0.1.0"]);
}

#[test]
fn index_chart_names_are_sorted() {
    let server = server_with(&[("zeta", "1.0.0"), ("alpha", "1.0.0"), ("mid", "1.0.0")]);
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(yaml_keys(&index["entries"]), ["alpha", "mid", "zeta"]);
}

const FULL_CHART_YAML: &str = r#"apiVersion: v2
name: full
version: 1.2.3
description: A chart with every field
home: https://example.com/full
sources:
  - https://github.com/example/full
keywords:
  - web
  - proxy
maintainers:
  - name: Ann
    email: ann@example.com
    url: https://ann.example.com
    extra: dropped
icon: https://example.com/icon.png
appVersion: "1.16.0"
kubeVersion: ">=1.20.0-0"
dependencies:
  - name: db
    version: 1.x.x
    repository: https://charts.example.com
    condition: db.enabled
    alias: database
annotations:
  category: Web
type: application
deprecated: true
foo: bar
"#;

/// Helm's `ChartVersion` keys: what a version entry may hold.
const HELM_VERSION_KEYS: &[&str] = &[
    "name",
    "home",
    "sources",
    "version",
    "description",
    "keywords",
    "maintainers",
    "icon",
    "apiVersion",
    "condition",
    "tags",
    "appVersion",
    "deprecated",
    "annotations",
    "kubeVersion",
    "dependencies",
    "type",
    "urls",
    "created",
    "digest",
];

#[test]
fn index_entry_carries_every_helm_field_and_drops_unknown_keys() {
    let server = Server::in_process(&[]);
    let package = ChartBuilder::new("full", "1.2.3").file("Chart.yaml", FULL_CHART_YAML).build();
    put(&server, "team", &package);
    let body = server.get("/team/index.yaml").text().unwrap();
    let index = yaml(&body);
    let entry = &index["entries"]["full"][0];
    assert_eq!(entry["apiVersion"], "v2");
    assert_eq!(entry["name"], "full");
    assert_eq!(entry["version"], "1.2.3");
    assert_eq!(entry["description"], "A chart with every field");
    assert_eq!(entry["home"], "https://example.com/full");
    assert_eq!(entry["sources"], yaml("- https://github.com/example/full"), "{body}");
    assert_eq!(entry["keywords"], yaml("[web, proxy]"));
    assert_eq!(
        entry["maintainers"],
        yaml("- {name: Ann, email: ann@example.com, url: 'https://ann.example.com'}"),
        "maintainer keys must be name/email/url only: {body}"
    );
    assert_eq!(entry["icon"], "https://example.com/icon.png");
    assert_eq!(entry["appVersion"], "1.16.0");
    assert_eq!(entry["kubeVersion"], ">=1.20.0-0");
    let dependency = &entry["dependencies"][0];
    assert_eq!(dependency["name"], "db");
    assert_eq!(dependency["version"], "1.x.x");
    assert_eq!(dependency["repository"], "https://charts.example.com");
    assert_eq!(dependency["condition"], "db.enabled");
    assert_eq!(dependency["alias"], "database");
    assert_eq!(entry["annotations"], yaml("{category: Web}"));
    assert_eq!(entry["type"], "application");
    assert_eq!(entry["deprecated"], true);
    assert!(!body.contains("foo"), "unknown key kept: {body}");
    assert!(!body.contains("extra"), "unknown maintainer key kept: {body}");
    for key in yaml_keys(entry) {
        assert!(HELM_VERSION_KEYS.contains(&key.as_str()), "key {key}");
    }
    assert_eq!(entry["digest"].as_str().unwrap(), sha256_hex(&package));
    assert_eq!(entry["urls"], yaml("[charts/full-1.2.3.tgz]"));
    assert!(!entry["created"].as_str().unwrap().is_empty());
}

#[test]
fn index_entry_defaults_api_version_to_v1() {
    let server = Server::in_process(&[]);
    let package = ChartBuilder::new("old", "1.0.0")
        .file("Chart.yaml", "name: old\nversion: 1.0.0\ndescription: no apiVersion\n")
        .build();
    put(&server, "team", &package);
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index["entries"]["old"][0]["apiVersion"], "v1");
    let (_, version) = api_get(&server, "/api/team/charts/old/1.0.0");
    assert_eq!(version["apiVersion"], "v1");
}

#[test]
fn index_digest_and_urls_match_the_package() {
    let server = Server::in_process(&[]);
    let package = ChartBuilder::new("web", "2.0.0").build();
    put(&server, "team", &package);
    let index = index_of(&server, "/team/index.yaml");
    let entry = &index["entries"]["web"][0];
    assert_eq!(entry["digest"].as_str().unwrap(), sha256_hex(&package));
    assert_eq!(entry["urls"], yaml("[charts/web-2.0.0.tgz]"));
}

// ---------------------------------------------------------------------------------------
// package downloads

#[test]
fn package_download_returns_identical_bytes() {
    let server = Server::in_process(&[]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    put(&server, "team", &package);
    let response = server.get("/team/charts/web-1.0.0.tgz");
    assert_eq!(response.status(), StatusCode::OK);
    let kind = header(&response, CONTENT_TYPE);
    assert!(kind == "application/gzip" || kind == "application/x-tar", "{kind}");
    assert_eq!(header(&response, CONTENT_LENGTH), package.len().to_string());
    assert_eq!(response.bytes().unwrap().to_vec(), package);
}

#[test]
fn package_download_of_absent_file_is_404_json() {
    let server = server_with(&[("web", "1.0.0")]);
    for path in [
        "/team/charts/web-9.9.9.tgz",
        "/team/charts/nope-1.0.0.tgz",
        "/nobody/charts/web-1.0.0.tgz",
        "/team/charts/web-1.0.0.tgz.prov",
    ] {
        let response = server.get(path);
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(header(&response, CONTENT_TYPE).starts_with("application/json"));
        assert!(!json(response)["error"].as_str().unwrap().is_empty(), "{path}");
    }
}

const PROV: &str = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\nname: web\nversion: 1.0.0\n\n...\nfiles:\n  web-1.0.0.tgz: sha256:0000\n-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJ\n-----END PGP SIGNATURE-----\n";

#[test]
fn provenance_download_returns_the_prov_file() {
    let server = server_with(&[("web", "1.0.0")]);
    let response = client().post(server.url("/api/team/prov")).body(PROV).send().unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = server.get("/team/charts/web-1.0.0.tgz.prov");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), "application/pgp-signature");
    assert_eq!(response.text().unwrap(), PROV);
}

// ---------------------------------------------------------------------------------------
// /api/<repo>/charts

#[test]
fn api_charts_maps_names_to_version_arrays() {
    let server = server_with(&[("web", "1.0.0"), ("web", "1.1.0"), ("db", "0.1.0")]);
    let (status, charts) = api_get(&server, "/api/team/charts");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_keys(&charts), ["db", "web"]);
    let web: Vec<&str> = charts["web"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(web, ["1.1.0", "1.0.0"]);
    assert_eq!(charts["db"][0]["name"], "db");
}

#[test]
fn api_charts_of_unknown_repository_is_empty_object() {
    let server = Server::in_process(&[]);
    let (status, charts) = api_get(&server, "/api/nobody/charts");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(charts, serde_json::json!({}));
}

#[test]
fn api_version_objects_equal_index_entries() {
    let server = server_with(&[("web", "1.0.0")]);
    let index = index_of(&server, "/team/index.yaml");
    let from_index = serde_json::to_value(&index["entries"]["web"][0]).unwrap();
    let (_, version) = api_get(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(version, from_index);
    let (_, charts) = api_get(&server, "/api/team/charts");
    assert_eq!(charts["web"][0], from_index);
}

#[test]
fn api_charts_pages_over_sorted_names() {
    let server = server_with(&[("c", "1.0.0"), ("a", "1.0.0"), ("b", "1.0.0")]);
    let page = |query: &str| {
        let (status, body) = api_get(&server, &format!("/api/team/charts?{query}"));
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        json_keys(&body)
    };
    assert_eq!(page("offset=0&limit=2"), ["a", "b"]);
    assert_eq!(page("offset=1&limit=1"), ["b"]);
    assert_eq!(page("offset=2&limit=5"), ["c"]);
    assert_eq!(page("limit=1"), ["a"]);
    assert_eq!(page("offset=1"), ["b", "c"]);
    assert!(page("offset=10&limit=5").is_empty());
}

#[test]
fn api_charts_refuses_bad_paging_numbers() {
    let server = server_with(&[("a", "1.0.0")]);
    for (query, names) in [
        ("offset=-1&limit=5", "offset"),
        ("offset=abc", "offset"),
        ("limit=0", "limit"),
        ("limit=-3", "limit"),
        ("offset=0&limit=many", "limit"),
    ] {
        let (status, body) = api_get(&server, &format!("/api/team/charts?{query}"));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(names), "{query}: {error}");
    }
}

#[test]
fn api_chart_lists_its_versions() {
    let server = server_with(&[("web", "1.0.0"), ("web", "2.0.0")]);
    let (status, list) = api_get(&server, "/api/team/charts/web");
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "web");
    assert_eq!(list[0]["version"], "2.0.0");
}

#[test]
fn api_unknown_chart_is_404_chart_not_found() {
    let server = server_with(&[("web", "1.0.0")]);
    let (status, body) = api_get(&server, "/api/team/charts/nope");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, serde_json::json!({"error": "chart not found"}));
}

#[test]
fn api_version_answers_one_version_object() {
    let server = server_with(&[("web", "1.0.0"), ("web", "2.0.0")]);
    let (status, version) = api_get(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["name"], "web");
    assert_eq!(version["version"], "1.0.0");
    assert_eq!(version["urls"], serde_json::json!(["charts/web-1.0.0.tgz"]));
    assert!(version["digest"].as_str().unwrap().len() == 64);
    assert!(version["created"].as_str().is_some());
}

#[test]
fn api_version_latest_is_highest_non_prerelease() {
    let server = server_with(&[("web", "1.0.0"), ("web", "1.1.0-rc.1"), ("web", "0.9.0")]);
    let (status, version) = api_get(&server, "/api/team/charts/web/latest");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["version"], "1.0.0");
}

#[test]
fn api_version_latest_with_only_prereleases_is_404() {
    let server = server_with(&[("snap", "0.1.0-SNAPSHOT-1")]);
    let (status, _) = api_get(&server, "/api/team/charts/snap/latest");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, version) = api_get(&server, "/api/team/charts/snap/0.1.0-SNAPSHOT-1");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["version"], "0.1.0-SNAPSHOT-1");
}

#[test]
fn api_version_accepts_a_constraint() {
    let server = server_with(&[("web", "0.1.0"), ("web", "0.1.5"), ("web", "0.2.0")]);
    let (status, version) = api_get(&server, "/api/team/charts/web/~0.1");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["version"], "0.1.5");
    let (status, version) = api_get(&server, "/api/team/charts/web/%5E0.1.0");
    assert_eq!(status, StatusCode::OK, "^0.1.0: {version}");
    assert_eq!(version["version"], "0.1.5");
}

#[test]
fn api_unknown_version_is_404() {
    let server = server_with(&[("web", "1.0.0")]);
    let (status, body) = api_get(&server, "/api/team/charts/web/1.0.1");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("web-1.0.1"), "{body}");
    let (status, body) = api_get(&server, "/api/team/charts/nope/1.0.0");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().is_some());
    let (status, body) = api_get(&server, "/api/team/charts/web/abc");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().is_some());
}

#[test]
fn api_head_of_chart_and_version_is_status_without_body() {
    let server = server_with(&[("web", "1.0.0")]);
    for (path, status) in [
        ("/api/team/charts/web", StatusCode::OK),
        ("/api/team/charts/nope", StatusCode::NOT_FOUND),
        ("/api/team/charts/web/1.0.0", StatusCode::OK),
        ("/api/team/charts/web/latest", StatusCode::OK),
        ("/api/team/charts/web/1.0.1", StatusCode::NOT_FOUND),
        ("/api/team/charts/nope/1.0.0", StatusCode::NOT_FOUND),
    ] {
        let response = head(&server, path);
        assert_eq!(response.status(), status, "HEAD {path}");
        assert!(response.bytes().unwrap().is_empty(), "HEAD {path}");
    }
}

// ---------------------------------------------------------------------------------------
// templates and values

#[test]
fn api_templates_answers_base64_templates_and_parsed_values() {
    let server = Server::in_process(&[]);
    let template = "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n";
    let package = ChartBuilder::new("web", "1.0.0").file("templates/service.yaml", template).build();
    put(&server, "team", &package);
    for version in ["1.0.0", "latest"] {
        let (status, body) = api_get(&server, &format!("/api/team/charts/web/{version}/templates"));
        assert_eq!(status, StatusCode::OK, "{body}");
        let templates = body["templates"].as_array().unwrap();
        assert_eq!(templates.len(), 2, "{body}");
        let service = templates
            .iter()
            .find(|t| t["name"] == "templates/service.yaml")
            .unwrap_or_else(|| panic!("no templates/service.yaml: {body}"));
        let data = base64::engine::general_purpose::STANDARD.decode(service["data"].as_str().unwrap()).unwrap();
        assert_eq!(data, template.as_bytes());
        assert_eq!(body["values"], serde_json::json!({"replicas": 1, "image": "nginx"}));
    }
}

#[test]
fn api_templates_of_unknown_version_is_404() {
    let server = server_with(&[("web", "1.0.0")]);
    for path in [
        "/api/team/charts/web/1.0.1/templates",
        "/api/team/charts/nope/1.0.0/templates",
        "/api/team/charts/web/1.0.1/values",
        "/api/team/charts/nope/1.0.0/values",
    ] {
        let (status, body) = api_get(&server, path);
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body["error"].as_str().is_some(), "{path}");
    }
}

#[test]
fn api_values_answers_the_exact_values_yaml() {
    let server = Server::in_process(&[]);
    let values = "# comment kept\nreplicas: 3\nimage:\n  tag: \"1.2\"\n";
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").file("values.yaml", values).build());
    let response = server.get("/api/team/charts/web/1.0.0/values");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), "application/yaml");
    assert_eq!(response.text().unwrap(), values);
    let response = server.get("/api/team/charts/web/latest/values");
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn api_values_of_chart_without_values_yaml_is_404() {
    let server = Server::in_process(&[]);
    put(&server, "team", &ChartBuilder::new("bare", "1.0.0").without("values.yaml").build());
    let (status, body) = api_get(&server, "/api/team/charts/bare/1.0.0/values");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("values.yaml"), "{body}");
    let (status, body) = api_get(&server, "/api/team/charts/bare/1.0.0/templates");
    assert_eq!(status, StatusCode::OK);
    assert!(body["values"].is_null() || body["values"] == serde_json::json!({}));
}

// ---------------------------------------------------------------------------------------
// versions with dashes (ChartMuseum #455: delete left a stale index entry)

#[test]
fn version_with_dashes_resolves_and_deletes_cleanly() {
    let server = server_with(&[("my-app", "3.0.0-12"), ("my-app", "2.0.0")]);
    let (status, version) = api_get(&server, "/api/team/charts/my-app/3.0.0-12");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["version"], "3.0.0-12");
    let download = server.get("/team/charts/my-app-3.0.0-12.tgz");
    assert_eq!(download.status(), StatusCode::OK);

    let response = client().delete(server.url("/api/team/charts/my-app/3.0.0-12")).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response), serde_json::json!({"deleted": true}));
    assert!(!server.root.join("team/my-app-3.0.0-12.tgz").exists());
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "my-app"), ["2.0.0"]);
    let (status, _) = api_get(&server, "/api/team/charts/my-app/3.0.0-12");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(server.root.join("team/my-app-2.0.0.tgz").exists());
}

#[test]
fn snapshot_version_with_many_dashes_deletes_cleanly() {
    let server = server_with(&[("mychart2", "0.1.0-SNAPSHOT-1")]);
    let response = client().delete(server.url("/api/team/charts/mychart2/0.1.0-SNAPSHOT-1")).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let index = index_of(&server, "/team/index.yaml");
    assert!(index["entries"].get("mychart2").is_none(), "{index:?}");
    assert!(!server.root.join("team/mychart2-0.1.0-SNAPSHOT-1.tgz").exists());
}

// ---------------------------------------------------------------------------------------
// method not allowed, DISABLE_API

#[test]
fn wrong_method_is_405_with_allow() {
    let server = server_with(&[("web", "1.0.0")]);
    let response = client().put(server.url("/api/team/charts")).body("x").send().unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = header(&response, ALLOW);
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert!(json(response)["error"].as_str().is_some());

    let response = client().post(server.url("/team/index.yaml")).body("x").send().unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(header(&response, ALLOW).contains("GET"));

    let response = client().delete(server.url("/api/team/charts/web")).send().unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(!header(&response, ALLOW).is_empty());
}

#[test]
fn disable_api_hides_api_routes_but_not_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    {
        let server = Server::in_process_in(root.clone(), &[], None);
        put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    }
    let server = Server::in_process_in(root, &[("DISABLE_API", "true")], Some(dir));
    for path in
        ["/api/team/charts", "/api/team/charts/web", "/api/team/charts/web/1.0.0", "/api/team/charts/web/1.0.0/values"]
    {
        assert_eq!(server.get(path).status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = server.upload("team", &ChartBuilder::new("web", "2.0.0").build());
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = client().delete(server.url("/api/team/charts/web/1.0.0")).send().unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
    assert_eq!(server.get("/team/charts/web-1.0.0.tgz").status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// DEPTH, CONTEXT_PATH, CHART_URL

#[test]
fn depth_0_serves_one_repository_at_the_root() {
    let server = Server::in_process(&[("DEPTH", "0")]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    put(&server, "", &package);
    assert_eq!(std::fs::read(server.root.join("web-1.0.0.tgz")).unwrap(), package);
    let index = index_of(&server, "/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
    assert_eq!(index["entries"]["web"][0]["urls"], yaml("[charts/web-1.0.0.tgz]"));
    let download = server.get("/charts/web-1.0.0.tgz");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.bytes().unwrap().to_vec(), package);
    let (status, charts) = api_get(&server, "/api/charts");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json_keys(&charts), ["web"]);
    let (status, _) = api_get(&server, "/api/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn depth_2_serves_org_slash_repo() {
    let server = Server::in_process(&[("DEPTH", "2")]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    put(&server, "org/repo", &package);
    assert_eq!(std::fs::read(server.root.join("org/repo/web-1.0.0.tgz")).unwrap(), package);
    let index = index_of(&server, "/org/repo/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
    let other = index_of(&server, "/org/other/index.yaml");
    assert!(index_versions(&other, "web").is_empty());
    let download = server.get("/org/repo/charts/web-1.0.0.tgz");
    assert_eq!(download.bytes().unwrap().to_vec(), package);
    let (status, version) = api_get(&server, "/api/org/repo/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["name"], "web");
    let list = server.get("/").text().unwrap();
    assert!(list.contains("org/repo"), "{list}");
}

#[test]
fn repositories_are_separate_at_depth_1() {
    let server = server_with(&[("web", "1.0.0")]);
    let index = index_of(&server, "/elsewhere/index.yaml");
    assert!(index_versions(&index, "web").is_empty());
    assert_eq!(server.get("/elsewhere/charts/web-1.0.0.tgz").status(), StatusCode::NOT_FOUND);
}

#[test]
fn context_path_and_chart_url_shape_routes_and_urls() {
    let server = Server::in_process(&[("CONTEXT_PATH", "/helm"), ("CHART_URL", "https://charts.example.com")]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    let response = client().post(server.url("/helm/api/team/charts")).body(package.clone()).send().unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(server.get("/helm/health").status(), StatusCode::OK);
    assert_eq!(server.get("/team/index.yaml").status(), StatusCode::NOT_FOUND);
    assert_eq!(server.get("/api/team/charts").status(), StatusCode::NOT_FOUND);
    let index = index_of(&server, "/helm/team/index.yaml");
    assert_eq!(index["serverInfo"]["contextPath"], "/helm");
    assert_eq!(index["entries"]["web"][0]["urls"], yaml("[https://charts.example.com/helm/team/charts/web-1.0.0.tgz]"));
    let download = server.get("/helm/team/charts/web-1.0.0.tgz");
    assert_eq!(download.bytes().unwrap().to_vec(), package);
    let (status, version) = api_get(&server, "/helm/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["urls"], serde_json::json!(["https://charts.example.com/helm/team/charts/web-1.0.0.tgz"]));
    // ChartMuseum breaks templates/values with CHART_URL set; we must not.
    let values = server.get("/helm/api/team/charts/web/1.0.0/values");
    assert_eq!(values.status(), StatusCode::OK);
    let list = server.get("/helm/").text().unwrap();
    assert!(list.contains("team"), "{list}");
}

#[test]
fn chart_url_alone_prefixes_repo_path() {
    let server = Server::in_process(&[("CHART_URL", "https://charts.example.com/")]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index["entries"]["web"][0]["urls"], yaml("[https://charts.example.com/team/charts/web-1.0.0.tgz]"));
    assert_eq!(index["serverInfo"], yaml("{}"));
}

#[test]
fn if_none_match_with_the_other_encodings_etag_is_200() {
    let server = server_with(&[("web", "1.0.0")]);
    let gzip_etag = header(&get_gzip(&server, "/team/index.yaml"), ETAG);
    let response = client().get(server.url("/team/index.yaml")).header(IF_NONE_MATCH, &gzip_etag).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, CONTENT_ENCODING).is_empty());
    assert!(response.bytes().unwrap().starts_with(b"apiVersion: v1\n"));
}

#[test]
fn index_head_with_gzip_has_the_gzip_length() {
    let server = server_with(&[("web", "1.0.0")]);
    let zipped = get_gzip(&server, "/team/index.yaml").bytes().unwrap();
    let response = client().head(server.url("/team/index.yaml")).header("Accept-Encoding", "gzip").send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_ENCODING), "gzip");
    assert_eq!(header(&response, CONTENT_LENGTH), zipped.len().to_string());
    assert!(response.bytes().unwrap().is_empty());
}

#[test]
fn version_with_build_metadata_resolves_downloads_and_deletes() {
    let server = server_with(&[("web", "1.0.0+build.7")]);
    let (status, version) = api_get(&server, "/api/team/charts/web/1.0.0+build.7");
    assert_eq!(status, StatusCode::OK, "{version}");
    assert_eq!(version["version"], "1.0.0+build.7");
    let url = version["urls"][0].as_str().unwrap().to_string();
    assert_eq!(url, "charts/web-1.0.0+build.7.tgz");
    assert_eq!(server.get(&format!("/team/{url}")).status(), StatusCode::OK);
    let response = client().delete(server.url("/api/team/charts/web/1.0.0+build.7")).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let index = index_of(&server, "/team/index.yaml");
    assert!(index_versions(&index, "web").is_empty());
    assert!(files_under(&server.root).is_empty());
}

#[test]
fn a_large_index_arrives_whole_in_both_encodings() {
    // Big enough that both bodies span many segments and the server pauses mid-body to let
    // other connections write (every 64 KiB).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    std::fs::create_dir_all(root.join("big")).unwrap();
    for n in 0..600 {
        for v in 0..4 {
            let chart = ChartBuilder::new(&format!("service-{n:04}"), &format!("1.{v}.0"))
                .file(
                    "Chart.yaml",
                    format!(
                        "apiVersion: v2\nname: service-{n:04}\nversion: 1.{v}.{n}\ndescription: {}\n",
                        "word ".repeat(40 + n % 13)
                    ),
                )
                .build();
            std::fs::write(root.join(format!("big/service-{n:04}-1.{v}.{n}.tgz")), chart).unwrap();
        }
    }
    let server = Server::in_process_in(root, &[], Some(dir));
    let plain = server.get("/big/index.yaml");
    let length: usize = header(&plain, CONTENT_LENGTH).parse().unwrap();
    let plain = plain.bytes().unwrap();
    assert_eq!(plain.len(), length);
    assert!(plain.len() > 1_000_000, "identity is {} bytes", plain.len());
    let gzip = get_gzip(&server, "/big/index.yaml");
    let length: usize = header(&gzip, CONTENT_LENGTH).parse().unwrap();
    let gzip = gzip.bytes().unwrap();
    assert_eq!(gzip.len(), length);
    assert!(gzip.len() > 64 * 1024, "gzip is {} bytes", gzip.len());
    assert_eq!(gunzip(&gzip), plain.to_vec());
    assert_eq!(index_versions(&yaml(std::str::from_utf8(&plain).unwrap()), "service-0599").len(), 4);
}
