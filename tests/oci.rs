//! One store, two protocols: charts uploaded over HTTP are pullable over OCI (`/v2/`), and
//! charts pushed over OCI are in `index.yaml` — with the real Helm client (`helm push` and
//! `helm show oci://…`, through helm-sdkpy), and as the distribution spec describes the
//! answers: tags in lexical order with paging, manifests by tag and by digest, chunked
//! blob uploads, the chart layer being the very package file, errors in the spec's JSON.

mod common;

use common::helm::helm;
use common::oci::{helm_manifest, push_blob};
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
    let index_digest =
        index_of(&server, "/team/index.yaml")["entries"]["web"][0]["digest"].as_str().unwrap().to_string();
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
    // The whole list is kept with the chart, and a new version makes it anew.
    assert_eq!(json(server.get("/v2/team/web/tags/list"))["tags"], all["tags"]);
    put(&server, "team", &ChartBuilder::new("web", "1.1.0+build.7").build());
    let again = json(server.get("/v2/team/web/tags/list"));
    assert_eq!(again["tags"], serde_json::json!(["1.0.0", "1.1.0_build.7", "1.10.0", "1.2.0", "2.0.0"]));
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
        ("/v2/other/web/tags/list", StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        ("/v2/other/web/manifests/1.0.0", StatusCode::NOT_FOUND, "NAME_UNKNOWN"),
        ("/v2/team/nope/manifests/1.0.0", StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        ("/v2/team/web/manifests/2.0.0", StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        (&format!("/v2/team/web/manifests/sha256:{}", "0".repeat(64)), StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        (&format!("/v2/team/web/blobs/sha256:{}", "0".repeat(64)), StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
    ] {
        let response = server.get(path);
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(error_code(response), code, "{path}");
    }
    let blob_delete =
        client().delete(server.url(&format!("/v2/team/web/blobs/sha256:{}", "0".repeat(64)))).send().unwrap();
    assert_eq!(blob_delete.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(blob_delete), "UNSUPPORTED");
    // A chart with no versions in a known repository has no tags; the name is not unknown.
    assert_eq!(json(server.get("/v2/team/nope/tags/list")), serde_json::json!({"name": "team/nope", "tags": []}));
    let referrers = server.get(&format!("/v2/team/web/referrers/sha256:{}", "0".repeat(64)));
    assert_eq!(referrers.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(referrers), "UNSUPPORTED");
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
    let shown =
        helm(None, &["oci-show", &reference, "--login", &host, "--username", "ci", "--password", "s3cret"]).ok();
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

/// Writes `package` to a file for Helm to push.
fn package_file(dir: &std::path::Path, name: &str, version: &str, package: &[u8]) -> String {
    let path = dir.join(format!("{name}-{version}.tgz"));
    std::fs::write(&path, package).unwrap();
    path.to_string_lossy().into_owned()
}

/// The digest Helm printed for a push (`Digest: sha256:…`).
fn pushed_digest(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no digest in {stdout}"))
        .to_string()
}

#[test]
fn a_chart_pushed_with_helm_is_in_the_index_and_pulled_back_both_ways() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let package = ChartBuilder::new("web", "2.0.0").build();
    let file = package_file(dir.path(), "web", "2.0.0", &package);
    let remote = oci_ref(&server, "team");
    let pushed = helm(None, &["oci-push", &file, &remote]);
    pushed.ok();
    // In the classic index as soon as the push answered, digest = the package's sha256.
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index["entries"]["web"][0]["version"], "2.0.0");
    assert_eq!(index["entries"]["web"][0]["digest"].as_str().unwrap(), sha256_hex(&package));
    assert_eq!(server.get("/team/charts/web-2.0.0.tgz").bytes().unwrap().as_ref(), package.as_slice());
    let url = server.url("/team");
    let flow =
        helm(None, &["repo-flow", "--url", &url, "--name", "ch", "--chart", "web", "--expect-version", "2.0.0"]).ok();
    assert_eq!(flow["chart"]["version"], "2.0.0");
    // Over OCI, the manifest is the one Helm pushed, byte for byte.
    let manifest = server.get("/v2/team/web/manifests/2.0.0");
    assert_eq!(header(&manifest, "docker-content-digest"), pushed_digest(&pushed.stdout));
    let shown = helm(None, &["oci-show", &oci_ref(&server, "team/web:2.0.0")]).ok();
    assert_eq!(shown["chart"]["version"], "2.0.0");
    // Pushing the same chart again is Helm's own repeat: accepted, nothing changes.
    helm(None, &["oci-push", &file, &remote]).ok();
    // Other bytes for the same version: refused, as an HTTP upload would be.
    let other = ChartBuilder::new("web", "2.0.0").file("values.yaml", "other: true\n").build();
    let other_dir = tempfile::tempdir().unwrap();
    let refused = helm(None, &["oci-push", &package_file(other_dir.path(), "web", "2.0.0", &other), &remote]);
    assert!(refused.failed().contains("409") || refused.stderr.contains("DENIED"), "{}", refused.stderr);
    assert_eq!(server.get("/team/charts/web-2.0.0.tgz").bytes().unwrap().as_ref(), package.as_slice());
    // Deleting over OCI deletes the version from both APIs.
    let digest = pushed_digest(&pushed.stdout);
    let deleted = client().delete(server.url(&format!("/v2/team/web/manifests/{digest}"))).send().unwrap();
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    assert!(index_versions(&index_of(&server, "/team/index.yaml"), "web").is_empty());
    assert_eq!(error_code(server.get("/v2/team/web/manifests/2.0.0")), "MANIFEST_UNKNOWN");
    assert_eq!(json(server.get("/v2/team/web/tags/list"))["tags"], serde_json::json!([]));
}

#[test]
fn helm_pushes_with_a_registry_login() {
    let server = Server::start(&[("BASIC_AUTH_USER", "ci"), ("BASIC_AUTH_PASS", "s3cret")]);
    let dir = tempfile::tempdir().unwrap();
    let file = package_file(dir.path(), "web", "1.0.0", &ChartBuilder::new("web", "1.0.0").build());
    let (remote, host) = (oci_ref(&server, "team"), format!("127.0.0.1:{}", server.port));
    helm(None, &["oci-push", &file, &remote]).failed();
    helm(None, &["oci-push", &file, &remote, "--login", &host, "--username", "ci", "--password", "s3cret"]).ok();
    let index = client().get(server.url("/team/index.yaml")).basic_auth("ci", Some("s3cret")).send().unwrap();
    assert_eq!(index_versions(&yaml(&index.text().unwrap()), "web"), ["1.0.0"]);
}

#[test]
fn a_manifest_whose_chart_layer_is_not_a_valid_chart_is_refused_and_writes_nothing() {
    let server = Server::start(&[]);
    let config = br#"{"name":"web","version":"1.0.0"}"#.to_vec();
    assert_eq!(push_blob(&server, "team/web", &config).status(), StatusCode::CREATED);
    let put_manifest = |layer: &[u8], tag: &str| {
        assert_eq!(push_blob(&server, "team/web", layer).status(), StatusCode::CREATED);
        let url = server.url(&format!("/v2/team/web/manifests/{tag}"));
        client()
            .put(url)
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(helm_manifest(&config, layer))
            .send()
            .unwrap()
    };
    for (layer, tag, says) in [
        (b"not a tarball".to_vec(), "1.0.0", "not a valid chart package"),
        (ChartBuilder::new("web", "1.0.0").without("Chart.yaml").build(), "1.0.0", "Chart.yaml"),
        (ChartBuilder::new("api", "1.0.0").build(), "1.0.0", "named api"),
        (ChartBuilder::new("web", "1.0.0").build(), "2.0.0", "pushed as 2.0.0"),
    ] {
        let response = put_manifest(&layer, tag);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = json(response);
        assert_eq!(body["errors"][0]["code"], "MANIFEST_INVALID", "{body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(says), "{says:?} not in {body}");
    }
    assert!(index_versions(&index_of(&server, "/team/index.yaml"), "web").is_empty());
    assert!(files_under(&server.root.join("team")).is_empty(), "{:?}", files_under(&server.root.join("team")));
    // A manifest naming a blob never pushed.
    let unknown = helm_manifest(&config, b"never pushed");
    let response = client().put(server.url("/v2/team/web/manifests/1.0.0")).body(unknown).send().unwrap();
    assert_eq!(error_code(response), "MANIFEST_BLOB_UNKNOWN");
}

#[test]
fn chunked_uploads_follow_the_spec() {
    let server = Server::start(&[]);
    let started = client().post(server.url("/v2/team/web/blobs/uploads/")).send().unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let location = header(&started, "location");
    assert!(location.starts_with("/v2/team/web/blobs/uploads/"), "{location}");
    let data = noise(3000);
    let patch = |range: Option<&str>, bytes: &[u8]| {
        let mut request = client().patch(server.url(&location)).body(bytes.to_vec());
        if let Some(range) = range {
            request = request.header("content-range", range);
        }
        request.send().unwrap()
    };
    let first = patch(Some("0-999"), &data[..1000]);
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&first, "range"), "0-999");
    // Out of order, or a chunk sent again: 416, and the upload is unchanged.
    let again = patch(Some("0-999"), &data[..1000]);
    assert_eq!(again.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&again, "range"), "0-999");
    // Without Content-Range (as skopeo sends), appended.
    assert_eq!(patch(None, &data[1000..2000]).status(), StatusCode::ACCEPTED);
    let status = client().get(server.url(&location)).send().unwrap();
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&status, "range"), "0-1999");
    // The closing PUT with the last chunk and a wrong digest: refused, upload gone.
    let wrong = client()
        .put(server.url(&format!("{location}?digest=sha256:{}", "0".repeat(64))))
        .body(data[2000..].to_vec())
        .send()
        .unwrap();
    assert_eq!(error_code(wrong), "DIGEST_INVALID");
    assert_eq!(error_code(client().get(server.url(&location)).send().unwrap()), "BLOB_UPLOAD_UNKNOWN");
    // The whole flow again, right: the blob is pullable before any manifest names it.
    let location = header(&client().post(server.url("/v2/team/web/blobs/uploads/")).send().unwrap(), "location");
    assert_eq!(
        client().patch(server.url(&location)).body(data[..2000].to_vec()).send().unwrap().status(),
        StatusCode::ACCEPTED
    );
    let digest = format!("sha256:{}", sha256_hex(&data));
    let done =
        client().put(server.url(&format!("{location}?digest={digest}"))).body(data[2000..].to_vec()).send().unwrap();
    assert_eq!(done.status(), StatusCode::CREATED);
    assert_eq!(header(&done, "location"), format!("/v2/team/web/blobs/{digest}"));
    let blob = server.get(&format!("/v2/team/web/blobs/{digest}"));
    assert_eq!(blob.status(), StatusCode::OK);
    assert_eq!(blob.bytes().unwrap().as_ref(), data.as_slice());
    // A mount of a blob this server has is done at once; of one it lacks, a new upload.
    let mount = client()
        .post(server.url(&format!("/v2/team/other/blobs/uploads/?mount={digest}&from=team/web")))
        .send()
        .unwrap();
    assert_eq!(mount.status(), StatusCode::CREATED);
    let mount = client()
        .post(server.url(&format!("/v2/team/other/blobs/uploads/?mount=sha256:{}&from=x/y", "1".repeat(64))))
        .send()
        .unwrap();
    assert_eq!(mount.status(), StatusCode::ACCEPTED);
    // Cancelled: gone.
    let location = header(&mount, "location");
    assert_eq!(client().delete(server.url(&location)).send().unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(error_code(client().get(server.url(&location)).send().unwrap()), "BLOB_UPLOAD_UNKNOWN");
}

/// Runs skopeo (Debian's, a second real OCI client) with `args`; returns its stdout.
fn skopeo(args: &[&str]) -> String {
    let output = std::process::Command::new("skopeo").args(args).output().expect("run skopeo (apt-get install skopeo)");
    assert!(output.status.success(), "skopeo {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn skopeo_copies_a_chart_out_of_and_into_charthall() {
    let server = Server::start(&[]);
    let package = ChartBuilder::new("web", "3.1.0").build();
    put(&server, "team", &package);
    let dir = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:web", dir.path().join("layout").display());
    let source = format!("docker://127.0.0.1:{}/team/web:3.1.0", server.port);
    skopeo(&["copy", "--src-tls-verify=false", &source, &layout]);
    // skopeo pushes its own way: a mount attempt first, PATCH without Content-Range.
    let target = format!("docker://127.0.0.1:{}/other/web:3.1.0", server.port);
    skopeo(&["copy", "--dest-tls-verify=false", &layout, &target]);
    let index = index_of(&server, "/other/index.yaml");
    assert_eq!(index["entries"]["web"][0]["digest"].as_str().unwrap(), sha256_hex(&package), "the same package");
    assert_eq!(server.get("/other/charts/web-3.1.0.tgz").bytes().unwrap().as_ref(), package.as_slice());
    // The manifest copied in is kept as sent: the same bytes the source served.
    let raw_source = skopeo(&["inspect", "--raw", "--tls-verify=false", &source]);
    let raw_target = skopeo(&["inspect", "--raw", "--tls-verify=false", &target]);
    assert_eq!(raw_source, raw_target);
    let config = skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", &target]);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&config).unwrap()["version"], "3.1.0");
}

/// Sets every file's modification time in `dir` back by two hours.
fn age_files(dir: &std::path::Path) {
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for entry in std::fs::read_dir(dir).unwrap() {
        std::fs::File::options().write(true).open(entry.unwrap().path()).unwrap().set_modified(past).unwrap();
    }
}

#[test]
fn blobs_no_manifest_took_are_swept_after_an_hour_and_pushed_charts_keep_their_config() {
    let mut server = Server::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let package = ChartBuilder::new("web", "1.0.0").build();
    helm(None, &["oci-push", &package_file(dir.path(), "web", "1.0.0", &package), &oci_ref(&server, "team")]).ok();
    let orphan = noise(500);
    assert_eq!(push_blob(&server, "team/web", &orphan).status(), StatusCode::CREATED);
    let blobs = server.root.join(".oci-blobs");
    assert!(std::fs::read_dir(&blobs).unwrap().next().is_some(), "the orphan and the pushed config wait there");
    age_files(&blobs);
    server.restart();
    // The first upload a server starts sweeps old blobs, in the background.
    assert_eq!(client().post(server.url("/v2/team/web/blobs/uploads/")).send().unwrap().status(), StatusCode::ACCEPTED);
    let started = std::time::Instant::now();
    while std::fs::read_dir(&blobs).unwrap().next().is_some() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "old blobs still in {blobs:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(error_code(server.get(&format!("/v2/team/web/blobs/sha256:{}", sha256_hex(&orphan)))), "BLOB_UNKNOWN");
    // The pushed chart still pulls: its config is kept beside its manifest.
    let shown = helm(None, &["oci-show", &oci_ref(&server, "team/web:1.0.0")]).ok();
    assert_eq!(shown["chart"]["version"], "1.0.0");
}

#[test]
fn disable_api_turns_pushes_off_and_leaves_pulls_on() {
    let server = Server::start(&[("DISABLE_API", "true")]);
    std::fs::create_dir_all(server.root.join("team")).unwrap();
    std::fs::write(server.root.join("team/web-1.0.0.tgz"), ChartBuilder::new("web", "1.0.0").build()).unwrap();
    let mut server = server;
    server.restart();
    let push = client().post(server.url("/v2/team/web/blobs/uploads/")).send().unwrap();
    assert_eq!(push.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(push), "UNSUPPORTED");
    let delete = client().delete(server.url("/v2/team/web/manifests/1.0.0")).send().unwrap();
    assert_eq!(delete.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(server.get("/v2/team/web/manifests/1.0.0").status(), StatusCode::OK);
}
