//! The real Helm client (Helm 4.3's Go SDK through helm-sdkpy, driven by
//! tests/helm/helm_flow.py) against the real server.

mod common;
use common::helm::{helm, Helm};
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/// `repo add` + `repo update` + `show chart NAME/CHART`, in `home` when given.
fn repo_flow_in(home: Option<&Path>, url: &str, chart: &str, version: &str, creds: Option<(&str, &str)>) -> Helm {
    let mut args =
        vec!["repo-flow", "--url", url, "--name", "charthall", "--chart", chart, "--expect-version", version];
    if let Some((user, pass)) = creds {
        args.extend(["--username", user, "--password", pass]);
    }
    helm(home, &args)
}

/// `repo add` + `repo update` + `show chart NAME/CHART` in a throwaway home.
fn repo_flow(url: &str, chart: &str, version: &str, creds: Option<(&str, &str)>) -> Helm {
    repo_flow_in(None, url, chart, version, creds)
}

/// A chart directory as a person writes it.
fn chart_dir(parent: &Path, name: &str, version: &str) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        format!(
            "apiVersion: v2\n\
             name: {name}\n\
             description: A chart packaged by the real Helm\n\
             type: application\n\
             version: {version}\n\
             appVersion: \"2.4.1\"\n\
             keywords:\n\
             - web\n\
             - test\n\
             maintainers:\n\
             - name: Jane Doe\n  \
               email: jane@example.com\n  \
               url: https://example.com/jane\n\
             home: https://example.com/{name}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("values.yaml"), "replicaCount: 1\nmessage: hello\n").unwrap();
    std::fs::write(
        dir.join("templates/configmap.yaml"),
        "apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n  \
           name: {{ .Release.Name }}-config\n\
         data:\n  \
           message: {{ .Values.message | quote }}\n",
    )
    .unwrap();
    dir
}

/// `helm package` of a fresh chart directory; returns the package bytes.
fn helm_package(name: &str, version: &str) -> Vec<u8> {
    let work = tempfile::tempdir().unwrap();
    let dir = chart_dir(work.path(), name, version);
    let dest = work.path().join("out");
    let result = helm(None, &["package", dir.to_str().unwrap(), dest.to_str().unwrap()]);
    assert_eq!(result.code, Some(0), "helm package failed:\n{}\n{}", result.stdout, result.stderr);
    let path = PathBuf::from(result.stdout.lines().last().unwrap().trim());
    assert_eq!(path.file_name().unwrap().to_str().unwrap(), format!("{name}-{version}.tgz"));
    std::fs::read(&path).unwrap()
}

/// Cached: the packages Helm made, so each test does not re-package.
fn packaged(name: &'static str, version: &'static str) -> Vec<u8> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static CACHE: OnceLock<Mutex<HashMap<(&str, &str), Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().unwrap().get(&(name, version)) {
        return found.clone();
    }
    let bytes = helm_package(name, version);
    cache.lock().unwrap().insert((name, version), bytes.clone());
    bytes
}

fn upload_as(server: &Server, path: &str, package: &[u8], creds: Option<(&str, &str)>) -> Response {
    let mut request = client().post(server.url(path)).body(package.to_vec());
    if let Some((user, pass)) = creds {
        request = request.basic_auth(user, Some(pass));
    }
    request.send().unwrap()
}

fn assert_created(response: Response) {
    let status = response.status();
    let body = response.text().unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "upload: {body}");
}

/// The `chart` object helm_flow printed must be `name`/`version`.
fn assert_shown(out: &serde_json::Value, name: &str, version: &str) {
    assert_eq!(out["chart"]["name"], name, "{out}");
    assert_eq!(out["chart"]["version"], version, "{out}");
}

const USER: &str = "alice";
const PASS: &str = "s3cr3t pass:word";

// ---------------------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------------------

#[test]
fn helm_packages_uploads_adds_updates_and_shows() {
    let server = Server::start(&[]);
    let package = packaged("webapp", "0.3.1");
    assert_created(server.upload("team", &package));

    let out = repo_flow(&server.url("/team"), "webapp", "0.3.1", None).ok();
    assert_eq!(out["added"], true);
    assert_eq!(out["updated"], true);
    assert_shown(&out, "webapp", "0.3.1");
    assert_eq!(out["chart"]["appVersion"], "2.4.1");
    assert_eq!(out["chart"]["description"], "A chart packaged by the real Helm");
    assert!(out["chart_yaml"].as_str().unwrap().contains("jane@example.com"), "{out}");

    // The index describes the package Helm made.
    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    let entry = &index["entries"]["webapp"][0];
    assert_eq!(entry["digest"].as_str().unwrap(), sha256_hex(&package));
    assert_eq!(entry["urls"], yaml("- charts/webapp-0.3.1.tgz"));
    assert_eq!(entry["keywords"], yaml("- web\n- test"));
    assert_eq!(entry["maintainers"][0]["email"], "jane@example.com");
    assert_eq!(entry["type"], "application");
}

/// `JSON_INDEX`: Helm reads the JSON index (`repo add`, `repo update`, `show chart`), also
/// after an upload changed it.
#[test]
fn helm_reads_a_json_index() {
    let server = Server::start(&[("JSON_INDEX", "true")]);
    let package = packaged("webapp", "0.3.1");
    assert_created(server.upload("team", &ChartBuilder::new("aaa-first", "1.0.0").build()));
    assert_created(server.upload("team", &package));
    let body = server.get("/team/index.yaml").bytes().unwrap();
    let index: serde_json::Value = serde_json::from_slice(&body).expect("the server sends JSON");
    assert_eq!(index["entries"]["webapp"][0]["digest"].as_str().unwrap(), sha256_hex(&package));

    let home = tempfile::tempdir().unwrap();
    let url = server.url("/team");
    let out = repo_flow_in(Some(home.path()), &url, "webapp", "0.3.1", None).ok();
    assert_eq!(out["updated"], true);
    assert_shown(&out, "webapp", "0.3.1");
    assert_eq!(out["chart"]["appVersion"], "2.4.1");

    // An upload of a chart that sorts first changes the JSON's first segment: Helm still reads it.
    assert_created(server.upload("team", &ChartBuilder::new("aa-new", "0.0.1").build()));
    let out = helm(Some(home.path()), &["update-show", "--name", "charthall", "--chart", "aa-new"]).ok();
    assert_shown(&out, "aa-new", "0.0.1");
}

#[test]
fn helm_show_of_a_package_url() {
    let server = Server::start(&[]);
    assert_created(server.upload("team", &packaged("webapp", "0.3.1")));
    let out = helm(None, &["show-url", &server.url("/team/charts/webapp-0.3.1.tgz")]).ok();
    assert_shown(&out, "webapp", "0.3.1");
    // A package that is not there: Helm reports the 404.
    let missing = helm(None, &["show-url", &server.url("/team/charts/webapp-9.9.9.tgz")]);
    assert!(missing.failed().contains("404"), "{}", missing.stderr);
}

#[test]
fn helm_with_basic_auth() {
    let server = Server::start(&[("BASIC_AUTH_USER", USER), ("BASIC_AUTH_PASS", PASS)]);
    let package = packaged("webapp", "0.3.1");
    let refused = upload_as(&server, "/api/team/charts", &package, None);
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_created(upload_as(&server, "/api/team/charts", &package, Some((USER, PASS))));

    // Plain HTTP without credentials: 401 with a challenge.
    let response = server.get("/team/index.yaml");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge =
        response.headers().get("www-authenticate").expect("WWW-Authenticate on 401").to_str().unwrap().to_string();
    assert!(challenge.starts_with("Basic"), "{challenge}");
    assert_eq!(server.get("/team/charts/webapp-0.3.1.tgz").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.get("/health").status(), StatusCode::OK);

    let url = server.url("/team");
    let out = repo_flow(&url, "webapp", "0.3.1", Some((USER, PASS))).ok();
    assert_shown(&out, "webapp", "0.3.1");

    let wrong = repo_flow(&url, "webapp", "0.3.1", Some((USER, "wrong")));
    assert!(wrong.failed().contains("401"), "{}", wrong.stderr);
    let anonymous = helm(None, &["repo-add-only", "--url", &url, "--name", "charthall"]);
    assert!(anonymous.failed().contains("401"), "{}", anonymous.stderr);

    let out =
        helm(None, &["show-url", &server.url("/team/charts/webapp-0.3.1.tgz"), "--username", USER, "--password", PASS])
            .ok();
    assert_shown(&out, "webapp", "0.3.1");
}

/// Helm has no way to send a bearer token to an HTTP chart repository (`repo add` takes
/// basic credentials and TLS files only), so ChartMuseum users protect Helm's reads with
/// basic auth or client certificates: the latter, here.
#[test]
fn helm_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path());
    let (cert, key) = ca.issue("server", "127.0.0.1", false);
    let (client_cert, client_key) = ca.issue("helm", "helm-user", true);
    let server = Server::start(&[("TLS_CERT", &cert), ("TLS_KEY", &key), ("TLS_CA_CERT", &ca.ca_file)]);
    let package = packaged("webapp", "0.3.1");
    let upload = Command::new("curl")
        .args(["-sS", "--fail", "--cacert", &ca.ca_file, "--cert", &client_cert, "--key", &client_key])
        .args(["--data-binary", "@-"])
        .arg(server.url("/api/team/charts").replacen("http://", "https://", 1))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut upload.stdin.as_ref().unwrap(), &package).unwrap();
    let upload = upload.wait_with_output().unwrap();
    assert!(upload.status.success(), "curl upload with a client certificate failed");

    let url = server.url("/team").replacen("http://", "https://", 1);
    let tls =
        ["--ca-file", ca.ca_file.as_str(), "--cert-file", client_cert.as_str(), "--key-file", client_key.as_str()];
    let mut args =
        vec!["repo-flow", "--url", &url, "--name", "charthall", "--chart", "webapp", "--expect-version", "0.3.1"];
    args.extend(tls);
    assert_shown(&helm(None, &args).ok(), "webapp", "0.3.1");

    let without = helm(None, &["repo-add-only", "--url", &url, "--name", "charthall", "--ca-file", &ca.ca_file]);
    let refused = without.failed().to_string();
    assert!(refused.contains("certificate") || refused.contains("tls"), "{refused}");
}

#[test]
fn helm_with_anonymous_get() {
    let server = Server::start(&[("BASIC_AUTH_USER", USER), ("BASIC_AUTH_PASS", PASS), ("AUTH_ANONYMOUS_GET", "true")]);
    let package = packaged("webapp", "0.3.1");
    let refused = upload_as(&server, "/api/team/charts", &package, None);
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().contains_key("www-authenticate"));
    assert_created(upload_as(&server, "/api/team/charts", &package, Some((USER, PASS))));

    let out = repo_flow(&server.url("/team"), "webapp", "0.3.1", None).ok();
    assert_shown(&out, "webapp", "0.3.1");
    // Helm with the credentials works too.
    let out = repo_flow(&server.url("/team"), "webapp", "0.3.1", Some((USER, PASS))).ok();
    assert_shown(&out, "webapp", "0.3.1");
}

#[test]
fn helm_with_basic_auth_password_spelling() {
    let server = Server::start(&[("BASIC_AUTH_USER", USER), ("BASIC_AUTH_PASSWORD", PASS)]);
    let package = packaged("webapp", "0.3.1");
    assert_eq!(upload_as(&server, "/api/team/charts", &package, None).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        upload_as(&server, "/api/team/charts", &package, Some((USER, "nope"))).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_created(upload_as(&server, "/api/team/charts", &package, Some((USER, PASS))));
    let out = repo_flow(&server.url("/team"), "webapp", "0.3.1", Some((USER, PASS))).ok();
    assert_shown(&out, "webapp", "0.3.1");
    let wrong = repo_flow(&server.url("/team"), "webapp", "0.3.1", Some((USER, "nope")));
    assert!(wrong.failed().contains("401"), "{}", wrong.stderr);
}

#[test]
fn helm_with_depth_0() {
    let server = Server::start(&[("DEPTH", "0")]);
    assert_created(server.upload("", &packaged("webapp", "0.3.1")));
    let out = repo_flow(&server.url(""), "webapp", "0.3.1", None).ok();
    assert_shown(&out, "webapp", "0.3.1");
    // A trailing slash in the repository URL works too.
    let out = repo_flow(&server.url("/"), "webapp", "0.3.1", None).ok();
    assert_shown(&out, "webapp", "0.3.1");
}

#[test]
fn helm_with_depth_2() {
    let server = Server::start(&[("DEPTH", "2")]);
    assert_created(server.upload("acme/team", &packaged("webapp", "0.3.1")));
    let out = repo_flow(&server.url("/acme/team"), "webapp", "0.3.1", None).ok();
    assert_shown(&out, "webapp", "0.3.1");
}

#[test]
fn helm_with_context_path_and_chart_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let server = Server::start(&[("PORT", &port.to_string()), ("CONTEXT_PATH", "/helm"), ("CHART_URL", &base)]);
    assert_eq!(server.port, port);
    let package = packaged("webapp", "0.3.1");
    assert_created(upload_as(&server, "/helm/api/team/charts", &package, None));

    let index = yaml(&server.get("/helm/team/index.yaml").text().unwrap());
    assert_eq!(
        index["entries"]["webapp"][0]["urls"][0].as_str().unwrap(),
        format!("{base}/helm/team/charts/webapp-0.3.1.tgz")
    );
    assert_eq!(index["serverInfo"]["contextPath"], "/helm");

    let out = repo_flow(&format!("{base}/helm/team"), "webapp", "0.3.1", None).ok();
    assert_shown(&out, "webapp", "0.3.1");
    // Outside the context path there is no repository.
    assert_eq!(server.get("/team/index.yaml").status(), StatusCode::NOT_FOUND);
}

#[test]
fn helm_sees_a_version_uploaded_after_repo_add() {
    let server = Server::start(&[]);
    assert_created(server.upload("team", &packaged("webapp", "0.3.1")));
    let home = tempfile::tempdir().unwrap();
    let url = server.url("/team");
    let out = repo_flow_in(Some(home.path()), &url, "webapp", "0.3.1", None).ok();
    assert_shown(&out, "webapp", "0.3.1");

    assert_created(server.upload("team", &packaged("webapp", "0.4.0")));
    let out = helm(
        Some(home.path()),
        &["update-show", "--name", "charthall", "--chart", "webapp", "--expect-version", "0.4.0"],
    )
    .ok();
    assert_eq!(out["updated"], true);
    assert_shown(&out, "webapp", "0.4.0");
}

#[test]
fn helm_accepts_an_index_with_every_chart_yaml_field() {
    let server = Server::start(&[]);
    let chart_yaml = "\
apiVersion: v2
name: fancy
version: 1.2.3-beta.1+build.7
kubeVersion: \">=1.22.0-0\"
description: Every field Helm knows, and one it does not
type: application
keywords: [db, cache]
home: https://example.com/fancy
sources:
- https://github.com/example/fancy
- https://example.com/src
maintainers:
- name: Jane Doe
  email: jane@example.com
  url: https://example.com/jane
- name: Bot
icon: https://example.com/icon.png
appVersion: \"7.0\"
deprecated: true
annotations:
  category: Database
  artifacthub.io/license: Apache-2.0
condition: fancy.enabled
tags: backend
dependencies:
- name: redis
  version: \">=17.0.0\"
  repository: https://charts.example.com/stable
  condition: redis.enabled
  tags: [cache, backend]
  enabled: true
  import-values:
  - child: default.data
    parent: myimports
  - data
  alias: cache
- name: common
  version: 2.x.x
  repository: \"@bitnami\"
unknownTopLevelKey: should be dropped
";
    let package = ChartBuilder::new("fancy", "1.2.3-beta.1+build.7").file("Chart.yaml", chart_yaml).build();
    assert_created(server.upload("team", &package));
    // A plain version next to it, so Show (which skips pre-releases) has one to show.
    assert_created(server.upload("team", &ChartBuilder::new("plain", "1.0.0").build()));

    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    let entry = &index["entries"]["fancy"][0];
    assert!(entry["unknownTopLevelKey"].is_null(), "unknown keys dropped: {entry:?}");
    assert_eq!(entry["deprecated"], true);
    assert_eq!(entry["kubeVersion"], ">=1.22.0-0");
    assert_eq!(entry["dependencies"][0]["alias"], "cache");
    assert_eq!(entry["annotations"]["category"], "Database");

    let added = helm(None, &["repo-add-only", "--url", &server.url("/team"), "--name", "charthall"]).ok();
    assert_eq!(added["added"], true);
    let out = repo_flow(&server.url("/team"), "plain", "1.0.0", None).ok();
    assert_shown(&out, "plain", "1.0.0");
    // The package itself is readable by Helm.
    let out = helm(None, &["show-url", &server.url("/team/charts/fancy-1.2.3-beta.1+build.7.tgz")]).ok();
    assert_shown(&out, "fancy", "1.2.3-beta.1+build.7");
}
