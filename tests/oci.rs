//! Charts uploaded over HTTP are pullable over OCI (`/v2/`): with the real Helm client
//! (`helm show oci://…`, through helm-sdkpy), and as the distribution spec describes the
//! answers — tags in lexical order with paging, manifests by tag and by digest, the chart
//! layer being the very package file, errors in the spec's JSON shape.

mod common;

use common::helm::helm;
use common::*;

fn oci_ref(server: &Server, name: &str) -> String {
    format!("oci://127.0.0.1:{}/{name}", server.port)
}

/// The spec's error code of a JSON error body.
fn error_code(response: Response) -> String {
    let body = json(response);
    body["errors"][0]["code"].as_str().unwrap_or_else(|| panic!("not a spec error: {body}")).to_string()
}

#[test]
fn an_http_upload_is_pulled_over_oci_by_the_real_helm_client() {
    let server = Server::start(&[]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    put(&server, "team", &ChartBuilder::new("web", "1.2.0+build.7").build());
    put(&server, "team", &ChartBuilder::new("web", "1.1.0").build());

    let shown = helm(None, &["oci-show", &oci_ref(&server, "team/web:1.0.0")]).ok();
    assert_eq!(shown["chart"]["name"], "web");
    assert_eq!(shown["chart"]["version"], "1.0.0");
    // Without a tag Helm picks the newest through tags/list: a version with build
    // metadata, whose tag writes `+` as `_` (Helm's own rule; a reference's `:tag` cannot
    // hold either form in helm-sdkpy's Show, which takes no --version).
    let shown = helm(None, &["oci-show", &oci_ref(&server, "team/web")]).ok();
    assert_eq!(shown["chart"]["version"], "1.2.0+build.7");
    assert_eq!(server.get("/v2/team/web/manifests/1.2.0_build.7").status(), StatusCode::OK);
    // An unknown tag fails in Helm.
    helm(None, &["oci-show", &oci_ref(&server, "team/web:9.9.9")]).failed();
}

#[test]
fn the_chart_layer_is_the_package_and_its_digest_the_index_digest() {
    let server = Server::start(&[]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    put(&server, "team", &package);
    let response = server.get("/v2/team/web/manifests/1.0.0");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "application/vnd.oci.image.manifest.v1+json");
    let digest = header(&response, "docker-content-digest");
    let bytes = response.bytes().unwrap();
    assert_eq!(digest, format!("sha256:{}", sha256_hex(&bytes)), "the digest header is the body's");
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let layer = &manifest["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
    let index_digest = index_of(&server, "/team/index.yaml")["entries"]["web"][0]["digest"].as_str().unwrap().to_string();
    assert_eq!(layer["digest"], format!("sha256:{index_digest}"));
    assert_eq!(layer["size"], package.len());
    let blob = server.get(&format!("/v2/team/web/blobs/{}", layer["digest"].as_str().unwrap()));
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(blob.bytes().unwrap().as_ref(), package.as_slice(), "the layer is the uploaded package");
    // The config blob: the chart's metadata, as Helm pushes it.
    let config = server.get(&format!("/v2/team/web/blobs/{}", manifest["config"]["digest"].as_str().unwrap()));
    assert_eq!(config.status(), StatusCode::OK);
    assert_eq!(header(&config, "content-type"), "application/vnd.cncf.helm.config.v1+json");
    let config = json(config);
    assert_eq!((config["name"].as_str(), config["version"].as_str()), (Some("web"), Some("1.0.0")));
    // By digest, and after a restart: the same bytes.
    let by_digest = server.get(&format!("/v2/team/web/manifests/{digest}"));
    assert_eq!(by_digest.bytes().unwrap(), bytes);
    let mut server = server;
    server.restart();
    let again = server.get("/v2/team/web/manifests/1.0.0");
    assert_eq!(header(&again, "docker-content-digest"), digest, "stable across restarts");
    // HEAD: the headers, no body.
    let head = client().head(server.url("/v2/team/web/manifests/1.0.0")).send().unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "docker-content-digest"), digest);
    assert!(head.bytes().unwrap().is_empty());
}

#[test]
fn tags_are_listed_in_lexical_order_and_paged() {
    let server = Server::start(&[]);
    for version in ["2.0.0", "1.10.0", "1.0.0", "1.2.0"] {
        put(&server, "team", &ChartBuilder::new("web", version).build());
    }
    let all = json(server.get("/v2/team/web/tags/list"));
    assert_eq!(all, serde_json::json!({"name": "team/web", "tags": ["1.0.0", "1.10.0", "1.2.0", "2.0.0"]}));
    let first = server.get("/v2/team/web/tags/list?n=2");
    assert_eq!(header(&first, "link"), "</v2/team/web/tags/list?n=2&last=1.10.0>; rel=\"next\"");
    assert_eq!(json(first)["tags"], serde_json::json!(["1.0.0", "1.10.0"]));
    let second = server.get("/v2/team/web/tags/list?n=2&last=1.10.0");
    assert!(second.headers().get("link").is_none(), "the last page has no next");
    assert_eq!(json(second)["tags"], serde_json::json!(["1.2.0", "2.0.0"]));
    assert_eq!(error_code(server.get("/v2/team/web/tags/list?n=many")), "PAGINATION_NUMBER_INVALID");
}

#[test]
fn unknown_names_and_references_and_writes_answer_spec_errors() {
    let server = Server::start(&[]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    let base = server.get("/v2/");
    assert_eq!(base.status(), StatusCode::OK);
    assert_eq!(header(&base, "docker-distribution-api-version"), "registry/2.0");
    for (path, status, code) in [
        ("/v2/team/nope/tags/list", StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        ("/v2/other/web/manifests/1.0.0", StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        ("/v2/team/web/manifests/2.0.0", StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        (&format!("/v2/team/web/manifests/sha256:{}", "0".repeat(64)), StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        (&format!("/v2/team/web/blobs/sha256:{}", "0".repeat(64)), StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
    ] {
        let response = server.get(path);
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(error_code(response), code, "{path}");
    }
    let push = client().post(server.url("/v2/team/web/blobs/uploads/")).send().unwrap();
    assert_eq!(push.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(push), "UNSUPPORTED");
    // The classic routes of a repository named `v2` still work.
    put(&server, "v2", &ChartBuilder::new("web", "1.0.0").build());
    assert_eq!(index_versions(&index_of(&server, "/v2/index.yaml"), "web"), ["1.0.0"]);
}

#[test]
fn a_delete_through_the_classic_api_removes_the_tag() {
    let server = Server::start(&[]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    put(&server, "team", &ChartBuilder::new("web", "1.1.0").build());
    let response = client().delete(server.url("/api/team/charts/web/1.0.0")).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(server.get("/v2/team/web/tags/list"))["tags"], serde_json::json!(["1.1.0"]));
    assert_eq!(error_code(server.get("/v2/team/web/manifests/1.0.0")), "MANIFEST_UNKNOWN");
}

#[test]
fn registry_login_with_basic_auth_and_anonymous_pulls() {
    let auth = [("BASIC_AUTH_USER", "ci"), ("BASIC_AUTH_PASS", "s3cret")];
    let server = Server::start(&auth);
    let upload = client().post(server.url("/api/team/charts")).basic_auth("ci", Some("s3cret"));
    assert_eq!(upload.body(ChartBuilder::new("web", "1.0.0").build()).send().unwrap().status(), StatusCode::CREATED);
    // `helm registry login` starts at /v2/ and needs a Basic challenge there.
    let base = server.get("/v2/");
    assert_eq!(base.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&base, "www-authenticate").starts_with("Basic realm="), "{base:?}");
    let host = format!("127.0.0.1:{}", server.port);
    let reference = oci_ref(&server, "team/web:1.0.0");
    let shown = helm(None, &["oci-show", &reference, "--login", &host, "--username", "ci", "--password", "s3cret"]).ok();
    assert_eq!(shown["chart"]["version"], "1.0.0");
    helm(None, &["oci-show", &reference]).failed();
    helm(None, &["oci-show", &reference, "--login", &host, "--username", "ci", "--password", "wrong"]).failed();
    // AUTH_ANONYMOUS_GET lets pulls through without a login.
    let open = Server::start(&[auth[0], auth[1], ("AUTH_ANONYMOUS_GET", "true")]);
    let upload = client().post(open.url("/api/team/charts")).basic_auth("ci", Some("s3cret"));
    assert_eq!(upload.body(ChartBuilder::new("web", "1.0.0").build()).send().unwrap().status(), StatusCode::CREATED);
    let shown = helm(None, &["oci-show", &oci_ref(&open, "team/web:1.0.0")]).ok();
    assert_eq!(shown["chart"]["version"], "1.0.0");
}
