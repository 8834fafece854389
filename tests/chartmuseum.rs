//! Moving a ChartMuseum deployment over: every ChartMuseum setting works or stops start-up
//! by name, its example command lines and config files start ChartHall, bearer tokens and
//! client certificates protect as they did, and the limits, CORS and depth behave as
//! ChartMuseum's own test cases say.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, AUTHORIZATION, WWW_AUTHENTICATE};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Runs the binary on a fresh folder with `env` and `args`, expecting it to stop at once.
fn refused(env: &[(&str, &str)], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut command = charthall(&dir.path().join("data"), env.iter().copied());
    command.args(args).stdin(Stdio::null());
    let output = run_bounded(command, Duration::from_secs(20));
    assert!(!output.status.success(), "started with {env:?} {args:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a command that must end by itself within `limit`.
fn run_bounded(mut command: Command, limit: Duration) -> Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start charthall");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("charthall kept running past {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

// ---------------------------------------------------------------------------------------
// settings

#[test]
fn each_unsupported_chartmuseum_setting_stops_start_up_naming_itself() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("CACHE", "redis")], "CACHE (--cache) = \"redis\" is not supported: not needed"),
        (
            &[("GEN_INDEX", "1")],
            "GEN_INDEX prints the index of one repository, the storage folder itself: it needs DEPTH=0",
        ),
        (&[("DEPTH_DYNAMIC", "true")], "DEPTH_DYNAMIC (--depth-dynamic) = \"true\" is not supported: set DEPTH"),
        (&[("ALWAYS_REGENERATE_CHART_INDEX", "true")], "ALWAYS_REGENERATE_CHART_INDEX"),
        (&[("WEB_TEMPLATE_PATH", "/web")], "WEB_TEMPLATE_PATH (--web-template-path) = \"/web\" is not supported"),
        (&[("ARTIFACT_HUB_REPO_ID", "x")], "ARTIFACT_HUB_REPO_ID (--artifact-hub-repo-id) = \"x\" is not supported"),
        (&[("STORAGE", "amazon")], "STORAGE=amazon needs STORAGE_AMAZON_BUCKET"),
        (&[("STORAGE", "google")], "the google backend is not supported yet"),
        (&[("STORAGE", "garage")], "unsupported storage backend: garage"),
        (&[("AUTH_ACTIONS_SEARCH_PATH", "access[].actions[]")], "AUTH_ACTIONS_SEARCH_PATH = \"access[].actions[]\""),
        (&[("BEARER_AUTH", "true"), ("AUTH_REALM", "r")], "missing: AUTH_SERVICE, AUTH_CERT_PATH"),
        (&[("TLS_CA_CERT", "/ca.pem")], "TLS_CA_CERT asks for client certificates over HTTPS"),
        (&[("LOG_LEVEL", "loud")], "LOG_LEVEL (--log-level)"),
        (&[("PORT", "abc")], "invalid value 'abc' for PORT (--port)"),
    ];
    for (env, expected) in cases {
        let stderr = refused(env, &[]);
        assert!(stderr.contains(expected), "{env:?}: expected {expected:?} in:\n{stderr}");
    }
    // The same, given as ChartMuseum's flags.
    let stderr = refused(&[], &["--cache=redis"]);
    assert!(stderr.contains("CACHE (--cache) = \"redis\" is not supported"), "{stderr}");
    let stderr = refused(&[], &["--artifact-hub-repo-id=x"]);
    assert!(stderr.contains("ARTIFACT_HUB_REPO_ID (--artifact-hub-repo-id) = \"x\" is not supported"), "{stderr}");
}

#[test]
fn chartmuseum_flags_with_no_effect_here_are_accepted_and_said_so() {
    let server = Server::start_with_args(
        &[],
        &[
            "--debug",
            "--log-latency-integer",
            "--storage-amazon-bucket",
            "b",
            "--write-timeout=60",
            "--disable-metrics",
        ],
    );
    assert_eq!(server.get("/health").status(), StatusCode::OK);
    assert_eq!(server.get("/metrics").status(), StatusCode::NOT_FOUND, "--disable-metrics works");
    let log = server.log();
    for said in [
        "LOG_LATENCY_INTEGER (--log-latency-integer) = \"true\" has no effect in ChartHall",
        "STORAGE_AMAZON_BUCKET = \"b\" has no effect with STORAGE=local",
        "WRITE_TIMEOUT (--write-timeout) = \"60\" has no effect",
    ] {
        assert!(log.contains(said), "{said:?} not in the log:\n{log}");
    }
    // --debug: a connection that sends garbage is logged at debug level.
    use std::io::{Read, Write};
    let mut garbage = std::net::TcpStream::connect(server.address()).unwrap();
    garbage.write_all(b"NOT HTTP\r\n\r\n").unwrap();
    let _ = garbage.read_to_end(&mut Vec::new());
    std::thread::sleep(Duration::from_millis(300));
    let log = server.log();
    assert!(log.contains("DEBUG") && log.contains("connection ended with an error"), "--debug:\n{log}");
}

#[test]
fn chartmuseum_example_command_lines_start_charthall() {
    // From ChartMuseum's README, with the port and folder of this test.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("chartstorage");
    let root_flag = format!("--storage-local-rootdir={}", root.display());
    let examples: &[&[&str]] = &[
        &["--debug", "--port=0", "--storage=local", &root_flag],
        &["--debug", "--port=0", "--storage=local", &root_flag, "--basic-auth-user=user", "--basic-auth-pass=pass"],
        &["--port=0", "--storage=local", &root_flag, "--depth=2", "--allow-overwrite", "--disable-statefiles"],
        &["--port=0", "--storage=local", &root_flag, "--cache-interval=5m", "--max-upload-size=1048576"],
    ];
    for args in examples {
        let server = Server::start_with_args(&[], args);
        assert_eq!(server.get("/health").status(), StatusCode::OK, "{args:?}");
    }
}

#[test]
fn a_chartmuseum_config_file_is_read_and_the_environment_overrides_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let elsewhere = dir.path().join("from-file");
    std::fs::write(
        &config,
        format!(
            "debug: true\nstorage:\n  backend: local\n  local:\n    rootdir: {}\nbasicauth:\n  user: ann\n  pass: secret\n\
             authanonymousget: true\nallowoverwrite: true\ndepth: 0\n",
            elsewhere.display()
        ),
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    // The harness sets STORAGE_LOCAL_ROOTDIR; DEPTH is set here: both override the file.
    let server = Server::start_with_args(&[("DEPTH", "1")], &["--config", &config]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    let anonymous = client().post(server.url("/api/team/charts")).body(package.clone()).send().unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "basic auth from the file");
    assert_eq!(server.get("/team/index.yaml").status(), StatusCode::OK, "anonymous reads from the file");
    for _ in 0..2 {
        let upload =
            client().post(server.url("/api/team/charts")).basic_auth("ann", Some("secret")).body(package.clone());
        assert_eq!(upload.send().unwrap().status(), StatusCode::CREATED, "overwrites allowed by the file");
    }
    assert!(server.root.join("team/web-1.0.0.tgz").is_file(), "the environment's folder, at its depth");
    assert!(!elsewhere.exists(), "the file's folder lost to the environment's");

    let stderr = refused(&[], &["--config", "blahblahblah.yaml"]);
    assert!(stderr.contains("config file not found: blahblahblah.yaml"), "{stderr}");
    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, "prot: 8080\n").unwrap();
    let stderr = refused(&[("CONFIG", &typo.to_string_lossy())], &[]);
    assert!(stderr.contains("prot in the config file"), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// depth, storage folder

#[test]
fn paths_of_a_depth_0_server_answer_404_saying_where_the_repositories_are() {
    let server = Server::in_process(&[]);
    for path in ["/index.yaml", "/api/charts", "/charts/web-1.0.0.tgz"] {
        let response = server.get(path);
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let error = json(response)["error"].as_str().unwrap().to_string();
        assert!(error.contains("DEPTH=1") && error.contains("/<segment 1>/index.yaml"), "{path}: {error}");
        assert!(error.contains("DEPTH=0"), "{error}");
    }
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        header(&metrics, "content-type").starts_with("text/plain; version=0.0.4"),
        "/metrics is not a repository list"
    );
    assert_eq!(server.get("/team/").status(), StatusCode::OK, "a repository's own path still answers");
}

#[test]
fn a_storage_folder_the_server_cannot_write_is_said_at_start_and_reads_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    std::fs::create_dir_all(root.join("team")).unwrap();
    let package = ChartBuilder::new("web", "1.0.0").build();
    std::fs::write(root.join("team/web-1.0.0.tgz"), &package).unwrap();
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let mut server = if as_root {
        // Root writes anywhere: run the server as uid 10000 (the image's user) instead.
        for path in [dir.path(), &root, &root.join("team")] {
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        }
        Server::start_as(root.clone(), &[], 10000)
    } else {
        std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
        std::fs::set_permissions(root.join("team"), std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
        Server::start_in(root.clone(), &[], None)
    };
    let log = server.log();
    assert!(
        log.contains("the storage folder is not writable by this user") && log.contains(&root.display().to_string()),
        "{log}"
    );
    assert_eq!(index_versions(&index_of(&server, "/team/index.yaml"), "web"), ["1.0.0"], "reads are served");
    let refused = server.upload("team", &ChartBuilder::new("api", "1.0.0").build());
    assert_eq!(refused.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let error = json(refused)["error"].as_str().unwrap().to_string();
    // The upload is refused where it is first written: the spool under the root folder.
    assert!(error.contains("Permission denied") && error.contains(&root.display().to_string()), "{error}");
    server.kill9();
}

// ---------------------------------------------------------------------------------------
// bearer tokens

/// An RS256 token from `issuer`'s key allowing `actions` on each `(repo, actions)`.
fn token(issuer: &str, access: &[(&str, &[&str])], expires_in: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let access: Vec<serde_json::Value> = access
        .iter()
        .map(|(name, actions)| serde_json::json!({"type": "artifact-repository", "name": name, "actions": actions}))
        .collect();
    let claims =
        serde_json::json!({"iss": "token-service", "sub": "ci", "iat": now, "exp": now + expires_in, "access": access});
    let key = std::fs::read(fixture(&format!("{issuer}.key.pem"))).unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&key).unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key).unwrap()
}

fn bearer_server(depth: &str, key_file: &str) -> Server {
    let key = fixture(key_file).to_string_lossy().into_owned();
    Server::in_process(&[
        ("BEARER_AUTH", "true"),
        ("AUTH_REALM", "https://auth.example.com/token"),
        ("AUTH_SERVICE", "charthall"),
        ("AUTH_CERT_PATH", &key),
        ("DEPTH", depth),
    ])
}

fn with_token(request: reqwest::blocking::RequestBuilder, token: &str) -> Response {
    request.header(AUTHORIZATION, format!("Bearer {token}")).send().unwrap()
}

#[test]
fn a_pull_token_reads_its_repository_only_and_may_not_upload() {
    let server = bearer_server("2", "token-issuer.pub.pem");
    let pull = token("token-issuer", &[("org1/repo1", &["pull"])], 300);
    let index = with_token(client().get(server.url("/org1/repo1/index.yaml")), &pull);
    assert_eq!(index.status(), StatusCode::OK);

    let package = ChartBuilder::new("web", "1.0.0").build();
    let upload = with_token(client().post(server.url("/api/org1/repo1/charts")).body(package.clone()), &pull);
    assert_eq!(upload.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&upload, WWW_AUTHENTICATE),
        "Bearer realm=\"https://auth.example.com/token\",service=\"charthall\",scope=\"artifact-repository:org1/repo1:push\""
    );
    let other = with_token(client().get(server.url("/org1/repo2/index.yaml")), &pull);
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&other, WWW_AUTHENTICATE),
        "Bearer realm=\"https://auth.example.com/token\",service=\"charthall\",scope=\"artifact-repository:org1/repo2:pull\""
    );
    assert_eq!(json(other), serde_json::json!({"error": "unauthorized"}));

    let push = token("token-issuer", &[("org1/repo1", &["pull", "push"])], 300);
    let upload = with_token(client().post(server.url("/api/org1/repo1/charts")).body(package), &push);
    assert_eq!(upload.status(), StatusCode::CREATED);
    let index = with_token(client().get(server.url("/org1/repo1/index.yaml")), &pull);
    assert_eq!(index_versions(&yaml(&index.text().unwrap()), "web"), ["1.0.0"]);

    assert_eq!(server.get("/org1/repo1/index.yaml").status(), StatusCode::UNAUTHORIZED, "no token");
    assert_eq!(server.get("/health").status(), StatusCode::OK, "probes need no token");
    assert_eq!(server.get("/info").status(), StatusCode::OK);
}

#[test]
fn forged_expired_and_malformed_tokens_are_refused() {
    let server = bearer_server("1", "token-issuer.pub.pem");
    let forged = token("other-issuer", &[("team", &["pull"])], 300);
    let expired = token("token-issuer", &[("team", &["pull"])], -600);
    for bad in [forged.as_str(), expired.as_str(), "not.a.token", ""] {
        let response = with_token(client().get(server.url("/team/index.yaml")), bad);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad:?}");
    }
    let good = token("token-issuer", &[("team", &["pull"])], 300);
    assert_eq!(with_token(client().get(server.url("/team/index.yaml")), &good).status(), StatusCode::OK);
}

#[test]
fn tokens_at_depth_0_name_the_repository_repo_and_a_certificate_holds_the_key() {
    // AUTH_CERT_PATH as ChartMuseum's docs give it: the issuer's certificate.
    let server = bearer_server("0", "token-issuer.cert.pem");
    let wrong = token("token-issuer", &[("", &["pull"])], 300);
    assert_eq!(with_token(client().get(server.url("/index.yaml")), &wrong).status(), StatusCode::UNAUTHORIZED);
    let right = token("token-issuer", &[("repo", &["pull"])], 300);
    assert_eq!(with_token(client().get(server.url("/index.yaml")), &right).status(), StatusCode::OK);
    assert_eq!(with_token(client().get(server.url("/api/charts")), &right).status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// client certificates

#[test]
fn https_with_tls_ca_cert_refuses_a_client_without_a_certificate_and_serves_one_with() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path());
    let (cert, key) = ca.issue("server", "127.0.0.1", false);
    let (client_cert, client_key) = ca.issue("client", "ci-job", true);
    let ca_file = ca.ca_file.clone();
    let server = Server::in_process(&[("TLS_CERT", &cert), ("TLS_KEY", &key), ("TLS_CA_CERT", &ca_file)]);
    let url = server.url("/health").replacen("http://", "https://", 1);
    let curl = |extra: &[&str]| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert", &ca_file])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let without = curl(&[]);
    assert!(!without.status.success(), "served a client without a certificate");
    let with = curl(&["--cert", &client_cert, "--key", &client_key]);
    assert!(with.status.success(), "{}", String::from_utf8_lossy(&with.stderr));
    assert_eq!(with.stdout, b"{\"healthy\":true}");
}

// ---------------------------------------------------------------------------------------
// limits, CORS, state files (ChartMuseum's cases 82-84, 107-108)

#[test]
fn max_storage_objects_refuses_new_objects_but_not_replacements() {
    let server = Server::in_process(&[("MAX_STORAGE_OBJECTS", "1"), ("ALLOW_OVERWRITE", "true")]);
    let package = ChartBuilder::new("mychart", "0.1.0").build();
    put(&server, "team", &package);
    put(&server, "team", &package); // a replacement adds no object
    let other = server.upload("team", &ChartBuilder::new("otherchart", "0.1.0").build());
    assert_eq!(other.status(), StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(json(other), serde_json::json!({"error": "repo has reached storage limit", "saved": false}));
    assert_eq!(files_under(&server.root), ["team/mychart-0.1.0.tgz"], "nothing written");
    put(&server, "other-team", &ChartBuilder::new("otherchart", "0.1.0").build());
}

#[test]
fn per_chart_limit_deletes_the_versions_stored_longest_ago() {
    let server = Server::in_process(&[("PER_CHART_LIMIT", "2"), ("ALLOW_OVERWRITE", "true")]);
    for (name, version) in
        [("mychart-service", "0.0.1"), ("mychart", "0.0.1"), ("mychart", "0.2.0"), ("mychart", "0.1.0")]
    {
        put(&server, "team", &ChartBuilder::new(name, version).build());
        // File times order the versions; make them differ whatever the filesystem's clock.
        std::thread::sleep(Duration::from_millis(20));
    }
    let api = |path: &str| server.get(&format!("/api/team/charts/{path}")).status();
    assert_eq!(api("mychart/0.2.0"), StatusCode::OK);
    assert_eq!(api("mychart/0.1.0"), StatusCode::OK);
    assert_eq!(api("mychart/0.0.1"), StatusCode::NOT_FOUND);
    assert_eq!(api("mychart-service/0.0.1"), StatusCode::OK);
    assert!(!server.root.join("team/mychart-0.0.1.tgz").exists(), "the evicted package is deleted");
    assert_eq!(index_versions(&index_of(&server, "/team/index.yaml"), "mychart"), ["0.2.0", "0.1.0"]);
}

#[test]
fn cors_allow_origin_marks_api_answers_only() {
    let server = Server::in_process(&[("CORS_ALLOW_ORIGIN", "https://ui.example.com")]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    assert_eq!(header(&server.get("/api/team/charts"), ACCESS_CONTROL_ALLOW_ORIGIN), "https://ui.example.com");
    assert_eq!(header(&server.get("/team/index.yaml"), ACCESS_CONTROL_ALLOW_ORIGIN), "");
    let plain = Server::in_process(&[]);
    assert_eq!(header(&plain.get("/api/team/charts"), ACCESS_CONTROL_ALLOW_ORIGIN), "");
}

#[test]
fn disable_statefiles_writes_no_start_up_cache() {
    let mut server = Server::start(&[("DISABLE_STATEFILES", "true")]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    server.stop(); // a stop writes the cache when state files are on
    assert!(!server.root.join("team/.charthall-index.cache").exists());
    server.start_again();
    assert_eq!(index_versions(&index_of(&server, "/team/index.yaml"), "web"), ["1.0.0"]);

    let mut with_cache = Server::start(&[]);
    put(&with_cache, "team", &ChartBuilder::new("web", "1.0.0").build());
    with_cache.stop();
    assert!(with_cache.root.join("team/.charthall-index.cache").exists(), "the comparison: on by default");
}
