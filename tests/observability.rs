//! What an operator sees: `/metrics` (checked with the Prometheus project's own parser)
//! and one log line per request, human or JSON, carrying the request's id.
mod common;
use common::*;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One sample of the exposition.
#[derive(Debug)]
struct Sample {
    family_type: String,
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Scrapes `/metrics` and parses it with `prometheus_client.parser`; fails on text it rejects.
fn scrape(server: &Server, path: &str) -> Vec<Sample> {
    let response = server.get(path);
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/parse_metrics.py");
    let mut parser = Command::new(tools_python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the parser");
    parser.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = parser.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "/metrics is not valid Prometheus text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    parsed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Sample {
            family_type: s["type"].as_str().unwrap().to_string(),
            name: s["name"].as_str().unwrap().to_string(),
            labels: serde_json::from_value(s["labels"].clone()).unwrap(),
            value: s["value"].as_f64().unwrap(),
        })
        .collect()
}

/// The value of the sample `name` whose labels include `labels`; 0 when there is none.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map_or(0.0, |s| s.value)
}

#[test]
fn metrics_parse_as_prometheus_text_and_move_with_requests() {
    let server = Server::start(&[]);
    let before = scrape(&server, "/metrics");
    let index_200 =
        |samples: &[Sample]| value(samples, "charthall_http_requests_total", &[("route", "index"), ("code", "200")]);
    assert_eq!(index_200(&before), 0.0);

    put(&server, "team", &ChartBuilder::new("app", "1.0.0").build());
    put(&server, "team", &ChartBuilder::new("app", "1.1.0").build());
    put(&server, "team", &ChartBuilder::new("db", "2.0.0").build());
    assert_eq!(server.upload("team", b"not a chart").status(), 400);
    assert_eq!(server.upload("team", &ChartBuilder::new("db", "2.0.0").build()).status(), 409);
    let mut index_bytes = 0;
    for _ in 0..5 {
        index_bytes = server.get("/team/index.yaml").bytes().unwrap().len();
    }
    assert_eq!(server.get("/team/charts/nope-1.0.0.tgz").status(), 404);

    let after = scrape(&server, "/metrics");
    assert_eq!(index_200(&after), 5.0, "five index GETs");
    assert_eq!(value(&after, "charthall_http_requests_total", &[("route", "package"), ("code", "404")]), 1.0);
    assert_eq!(value(&after, "charthall_http_requests_total", &[("route", "upload"), ("code", "201")]), 3.0);
    assert_eq!(value(&after, "charthall_http_requests_total", &[("route", "upload"), ("code", "400")]), 1.0);
    assert_eq!(value(&after, "charthall_http_requests_total", &[("route", "upload"), ("code", "409")]), 1.0);
    assert_eq!(value(&after, "charthall_uploads_total", &[("outcome", "saved")]), 3.0);
    assert_eq!(value(&after, "charthall_uploads_total", &[("outcome", "invalid")]), 1.0);
    assert_eq!(value(&after, "charthall_uploads_total", &[("outcome", "exists")]), 1.0);
    assert_eq!(
        value(&after, "charthall_http_response_body_bytes_total", &[("route", "index")]),
        5.0 * index_bytes as f64,
        "bytes sent are the bodies' bytes"
    );
    let latency_count = value(&after, "charthall_http_request_duration_seconds_count", &[("route", "index")]);
    assert_eq!(latency_count, 5.0);
    let inf = value(&after, "charthall_http_request_duration_seconds_bucket", &[("route", "index"), ("le", "+Inf")]);
    assert_eq!(inf, 5.0);
    assert!(after
        .iter()
        .any(|s| s.name == "charthall_http_request_duration_seconds_bucket" && s.family_type == "histogram"));

    assert_eq!(value(&after, "charthall_charts", &[("repo", "team")]), 2.0);
    assert_eq!(value(&after, "charthall_chart_versions", &[("repo", "team")]), 3.0);
    assert_eq!(value(&after, "chartmuseum_chart_versions_served", &[("repo", "team")]), 3.0);
    assert_eq!(value(&after, "charthall_index_bytes", &[("repo", "team")]), index_bytes as f64);
    assert!(value(&after, "charthall_index_gzip_bytes", &[("repo", "team")]) > 0.0);
    assert!(value(&after, "charthall_scans_completed_total", &[]) >= 1.0);

    // Label values come from fixed lists and the repositories: a random path adds none.
    let labels_before: usize = after.len();
    for i in 0..20 {
        server.get(&format!("/random-{i}/junk/path"));
    }
    let later = scrape(&server, "/metrics");
    assert!(later.len() <= labels_before + 2, "{} samples, then {}", labels_before, later.len());
}

#[test]
fn metrics_follow_chartmuseums_switches_and_the_context_path() {
    for env in [[("DISABLE_METRICS", "true")], [("ENABLE_METRICS", "false")]] {
        let server = Server::start(&env);
        let response = server.get("/metrics");
        assert_eq!(response.status(), 404, "{env:?}");
        assert!(response.text().unwrap().contains("metrics are off"));
    }
    let server = Server::start(&[("ENABLE_METRICS", "true"), ("CONTEXT_PATH", "/charts")]);
    server.get("/charts/team/index.yaml");
    let under_context = scrape(&server, "/charts/metrics");
    let bare = scrape(&server, "/metrics");
    assert_eq!(value(&under_context, "charthall_http_requests_total", &[("route", "index"), ("code", "200")]), 1.0);
    assert_eq!(value(&bare, "charthall_http_requests_total", &[("route", "index"), ("code", "200")]), 1.0);
}

/// The server's log lines that parse as JSON request lines, waiting up to 10 s until there
/// are at least `at_least` (the log is written by its own thread, a moment later).
fn request_lines(server: &Server, at_least: usize) -> Vec<serde_json::Value> {
    let started = Instant::now();
    loop {
        let log = server.log();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
            .collect();
        let requests: Vec<_> = lines.into_iter().filter(|l| l["message"] == "request").collect();
        if requests.len() >= at_least || started.elapsed() > Duration::from_secs(10) {
            return requests;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn json_request_lines_carry_the_ids_the_responses_showed() {
    let server = Server::start(&[("LOG_JSON", "true")]);
    let package = ChartBuilder::new("app", "1.0.0").build();
    let upload = server.upload("team", &package);
    assert_eq!(upload.status(), 201);
    let upload_id = header(&upload, "x-request-id");
    let index = server.get("/team/index.yaml");
    let index_id = header(&index, "x-request-id");
    let index_len = index.bytes().unwrap().len() as u64;
    let kept =
        client().get(server.url("/team/charts/app-1.0.0.tgz")).header("X-Request-Id", "ci-job-42").send().unwrap();
    assert_eq!(header(&kept, "x-request-id"), "ci-job-42", "an incoming id is kept");
    let bad = client().get(server.url("/info")).header("X-Request-Id", "x".repeat(500)).send().unwrap();
    let replaced = header(&bad, "x-request-id");
    assert!(replaced.len() < 100, "an overlong incoming id is replaced: {replaced}");
    assert_eq!(server.get("/health").status(), 200);
    assert_ne!(upload_id, index_id);

    let lines = request_lines(&server, 4);
    let by_id = |id: &str| {
        lines
            .iter()
            .find(|l| l["request_id"] == id)
            .unwrap_or_else(|| panic!("no request line with id {id} in {lines:#?}"))
            .clone()
    };
    let upload_line = by_id(&upload_id);
    assert_eq!(upload_line["method"], "POST");
    assert_eq!(upload_line["path"], "/api/team/charts");
    assert_eq!(upload_line["status"], 201);
    assert_eq!(upload_line["level"], "INFO");
    assert!(upload_line["timestamp"].is_string());
    let index_line = by_id(&index_id);
    assert_eq!(index_line["path"], "/team/index.yaml");
    assert_eq!(index_line["status"], 200);
    assert_eq!(index_line["bytes"], index_len);
    assert!(index_line["duration_us"].is_u64());
    let download = by_id("ci-job-42");
    assert_eq!(download["bytes"], package.len() as u64);
    assert_eq!(download["route"], "package");
    by_id(&replaced);
    assert!(lines.iter().all(|l| l["path"] != "/health"), "/health is logged only with LOG_HEALTH");
}

#[test]
fn health_checks_are_logged_with_log_health_and_lines_are_human_by_default() {
    let server = Server::start(&[("LOG_HEALTH", "true")]);
    let id = header(&server.get("/health"), "x-request-id");
    let started = Instant::now();
    let line = loop {
        if let Some(line) = server.log().lines().find(|l| l.contains(&id)).map(str::to_string) {
            break line;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no line for {id}:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    for part in ["INFO", "request", "method=GET", "path=\"/health\"", "status=200", "bytes=16", "duration_us="] {
        assert!(line.contains(part), "{part} in {line}");
    }
}

/// A log reader that stops reading (a full pipe) must not stop the server: lines are handed
/// to a writer thread and dropped when it falls behind, requests go on, and SIGTERM still
/// ends the process.
#[test]
fn a_stalled_log_reader_does_not_stall_requests_or_the_exit() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let port_text = port.to_string();
    let mut command = charthall(&dir.path().join("data"), [("PORT", port_text.as_str())].into_iter());
    // Nobody reads the pipe: after ~64 KiB (a few hundred lines) a blocking writer would hang.
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}/team/index.yaml");
    let started = Instant::now();
    while client().get(&url).send().is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let client = client();
    let started = Instant::now();
    for i in 0..3_000 {
        let response =
            client.get(&url).header("X-Request-Id", format!("a-long-request-id-to-fill-the-pipe-{i}")).send();
        assert_eq!(response.expect("GET").status(), 200);
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "3,000 GETs took {took:?}");
    Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the server did not exit with its log pipe full");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}
