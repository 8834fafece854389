//! The browse page: `GET /` answers HTML to a browser and the YAML list to everyone else;
//! `/api/<repo>/summary` (and `q` on `/api/<repo>/charts`) give the page small, filtered
//! pages of charts; and the page itself, driven in Debian's headless chromium by
//! tests/browser/browse.mjs, lists uploaded charts, narrows them as a user types, and
//! stays small on a 13,000-chart repository. Screenshots land in
//! `<target>/browser-artifacts/`.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, VARY, WWW_AUTHENTICATE};
use sha2::Digest;

/// What Chromium sends for a page.
const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";

fn get_accepting(server: &Server, path: &str, accept: &str) -> Response {
    client().get(server.url(path)).header(ACCEPT, accept).send().expect("GET")
}

/// The JSON block the server writes into the page for its script.
fn page_config(body: &str) -> serde_json::Value {
    let start = r#"<script id="charthall-config" type="application/json">"#;
    let at = body.find(start).unwrap_or_else(|| panic!("no configuration block in the page:\n{body}")) + start.len();
    let end = at + body[at..].find("</script>").expect("the block ends");
    serde_json::from_str(&body[at..end])
        .unwrap_or_else(|e| panic!("configuration is not JSON ({e}): {}", &body[at..end]))
}

/// A chart whose `Chart.yaml` says `description` and, when given, `icon`.
fn chart(name: &str, version: &str, description: &str, icon: Option<&str>) -> Vec<u8> {
    let mut yaml = format!(
        "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"{version}-app\"\ndescription: {}\n",
        serde_json::to_string(description).unwrap()
    );
    if let Some(icon) = icon {
        yaml.push_str(&format!("icon: {icon}\n"));
    }
    ChartBuilder::new(name, version).file("Chart.yaml", yaml).build()
}

fn names(summary: &serde_json::Value) -> Vec<String> {
    summary["charts"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

fn api_get(server: &Server, path: &str) -> (StatusCode, serde_json::Value) {
    let response = server.get(path);
    let status = response.status();
    (status, json(response))
}

// ---------------------------------------------------------------------------------------
// content negotiation on `/`

#[test]
fn a_browser_gets_the_page_and_every_other_client_the_yaml_list() {
    let server = Server::in_process(&[]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    put(&server, "team", &ChartBuilder::new("db", "1.0.0").build());

    let page = get_accepting(&server, "/", BROWSER_ACCEPT);
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(header(&page, CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(&page, VARY), "Accept");
    let body = page.text().unwrap();
    assert!(body.starts_with("<!doctype html>"), "{body:.200}");
    assert!(body.contains("<script>") && body.contains("summary?"), "the page carries its script");
    assert!(!body.contains("{{"), "every placeholder is filled");
    let config = page_config(&body);
    assert_eq!(config["repositories"], serde_json::json!([{"name": "team", "charts": 2}]));
    assert_eq!(config["contextPath"], "");
    assert_eq!(config["api"], true);

    // Everything that does not ask for HTML gets the original list, byte for byte.
    let yaml_list = "---\nrepos:\n- team\n";
    for accept in [None, Some("application/x-yaml"), Some("*/*"), Some("application/json"), Some("text/html;q=0")] {
        let response = match accept {
            Some(accept) => get_accepting(&server, "/", accept),
            None => server.get("/"),
        };
        assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
        assert_eq!(header(&response, CONTENT_TYPE), "application/x-yaml", "{accept:?}");
        assert_eq!(response.text().unwrap(), yaml_list, "{accept:?}");
    }

    // HEAD: the page's headers, no body.
    let head = client().head(server.url("/")).header(ACCEPT, BROWSER_ACCEPT).send().unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(&head, CONTENT_LENGTH), body.len().to_string());
    assert!(head.bytes().unwrap().is_empty());
}

#[test]
fn the_content_security_policy_allows_exactly_the_page_s_own_script_and_style() {
    let server = Server::in_process(&[]);
    let page = get_accepting(&server, "/", BROWSER_ACCEPT);
    let policy = header(&page, "content-security-policy");
    let body = page.text().unwrap();
    let between = |open: &str, close: &str| -> String {
        let at = body.find(open).unwrap_or_else(|| panic!("no {open}")) + open.len();
        body[at..at + body[at..].find(close).unwrap()].to_string()
    };
    let hash = |text: &str| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()));
    let script = between("<script>", "</script>");
    let style = between("<style>", "</style>");
    assert!(script.len() > 1000 && style.len() > 1000);
    assert!(policy.contains(&format!("script-src 'sha256-{}'", hash(&script))), "{policy}");
    assert!(policy.contains(&format!("style-src 'sha256-{}'", hash(&style))), "{policy}");
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
}

#[test]
fn a_repository_name_cannot_break_out_of_the_page() {
    let server = Server::in_process(&[]);
    put(&server, "<b>x&", &ChartBuilder::new("web", "1.0.0").build());
    let body = get_accepting(&server, "/", BROWSER_ACCEPT).text().unwrap();
    assert!(!body.contains("<b>x"), "the name is escaped in the page");
    assert_eq!(page_config(&body)["repositories"][0]["name"], "<b>x&");
}

#[test]
fn the_page_follows_context_path_and_depth() {
    let server = Server::in_process(&[("CONTEXT_PATH", "/helm"), ("DEPTH", "2")]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    let upload = client().post(server.url("/helm/api/acme/team/charts")).body(package).send().unwrap();
    assert_eq!(upload.status(), StatusCode::CREATED);
    let page = get_accepting(&server, "/helm/", BROWSER_ACCEPT);
    assert_eq!(page.status(), StatusCode::OK);
    let config = page_config(&page.text().unwrap());
    assert_eq!(config["contextPath"], "/helm");
    assert_eq!(config["repositories"], serde_json::json!([{"name": "acme/team", "charts": 1}]));
    assert_eq!(get_accepting(&server, "/", BROWSER_ACCEPT).status(), StatusCode::NOT_FOUND);
    let (status, summary) = api_get(&server, "/helm/api/acme/team/summary");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&summary), ["web"]);

    let server = Server::in_process(&[("DEPTH", "0")]);
    put(&server, "", &ChartBuilder::new("web", "1.0.0").build());
    let config = page_config(&get_accepting(&server, "/", BROWSER_ACCEPT).text().unwrap());
    assert_eq!(config["repositories"], serde_json::json!([{"name": "", "charts": 1}]));
    let (status, summary) = api_get(&server, "/api/summary");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&summary), ["web"]);
}

#[test]
fn without_the_api_the_page_says_so() {
    let server = Server::in_process(&[("DISABLE_API", "true")]);
    std::fs::create_dir_all(server.root.join("team")).unwrap();
    let page = get_accepting(&server, "/", BROWSER_ACCEPT);
    assert_eq!(page.status(), StatusCode::OK);
    let body = page.text().unwrap();
    assert_eq!(page_config(&body)["api"], false);
    assert!(body.contains("DISABLE_API"), "the script names the setting in its notice");
    assert_eq!(server.get("/api/team/summary").status(), StatusCode::NOT_FOUND);
}

#[test]
fn basic_auth_asks_a_browser_for_credentials_as_it_asks_for_the_list() {
    let server = Server::in_process(&[("BASIC_AUTH_USER", "alice"), ("BASIC_AUTH_PASS", "secret")]);
    let denied = get_accepting(&server, "/", BROWSER_ACCEPT);
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&denied, WWW_AUTHENTICATE).starts_with("Basic "), "the browser's prompt");
    assert_eq!(server.get("/api/team/summary").status(), StatusCode::UNAUTHORIZED);
    let allowed = client()
        .get(server.url("/"))
        .header(ACCEPT, BROWSER_ACCEPT)
        .basic_auth("alice", Some("secret"))
        .send()
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(header(&allowed, CONTENT_TYPE), "text/html; charset=utf-8");
    let summary = client().get(server.url("/api/team/summary")).basic_auth("alice", Some("secret")).send().unwrap();
    assert_eq!(summary.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// the summary and the filter

#[test]
fn the_summary_tells_each_chart_by_its_newest_version_and_filters_by_name() {
    let server = Server::in_process(&[]);
    put(&server, "team", &chart("redis", "1.0.0", "old", None));
    put(&server, "team", &chart("redis", "1.2.0", "Key-value store", Some("https://example.com/redis.png")));
    put(&server, "team", &chart("redis-operator", "0.1.0", "Operator", None));
    put(&server, "team", &chart("Redis-UI", "2.0.0", "A UI", None));
    put(&server, "team", &chart("nginx", "1.0.0", "Web server", None));
    put(&server, "team", &chart("alpha", "0.0.1", "First", None));

    let (status, all) = api_get(&server, "/api/team/summary");
    assert_eq!(status, StatusCode::OK);
    assert_eq!((all["total"].as_u64(), all["offset"].as_u64(), all["limit"].as_u64()), (Some(5), Some(0), Some(50)));
    assert_eq!(names(&all), ["Redis-UI", "alpha", "nginx", "redis", "redis-operator"]);
    let redis = &all["charts"][3];
    assert_eq!(redis["version"], "1.2.0");
    assert_eq!(redis["appVersion"], "1.2.0-app");
    assert_eq!(redis["description"], "Key-value store");
    assert_eq!(redis["icon"], "https://example.com/redis.png");
    assert_eq!(redis["versions"], 2);
    assert_eq!(redis["deprecated"], false);
    assert!(redis["created"].as_str().unwrap().ends_with('Z'), "{redis}");
    assert_eq!(all["charts"][0]["icon"], serde_json::Value::Null);

    // `q`: a substring of the name, any case; `total` counts the matches.
    let (_, matched) = api_get(&server, "/api/team/summary?q=REDIS");
    assert_eq!(names(&matched), ["Redis-UI", "redis", "redis-operator"]);
    assert_eq!(matched["total"], 3);
    let (_, page) = api_get(&server, "/api/team/summary?q=redis&offset=1&limit=1");
    assert_eq!(names(&page), ["redis"]);
    assert_eq!(page["total"], 3);
    let (_, none) = api_get(&server, "/api/team/summary?q=postgres");
    assert_eq!((none["total"].as_u64(), names(&none).len()), (Some(0), 0));
    let (_, past) = api_get(&server, "/api/team/summary?offset=99");
    assert_eq!((past["total"].as_u64(), names(&past).len()), (Some(5), 0));
    let (_, spaced) = api_get(&server, "/api/team/summary?q=+nginx+");
    assert_eq!(names(&spaced), ["nginx"]);

    // The same filter on the ChartMuseum list, whose shape does not change.
    let (status, listed) = api_get(&server, "/api/team/charts?q=redis&limit=2");
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&String> = listed.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Redis-UI", "redis"]);
    assert_eq!(listed["redis"].as_array().unwrap().len(), 2);

    // A repository that does not exist: nothing, not an error.
    let (status, empty) = api_get(&server, "/api/nothing/summary");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(empty, serde_json::json!({"total": 0, "offset": 0, "limit": 50, "charts": []}));
}

#[test]
fn summary_pages_are_bounded_and_bad_numbers_are_refused() {
    let server = Server::in_process(&[]);
    for i in 0..210 {
        put(&server, "team", &ChartBuilder::new(&format!("c{i:03}"), "1.0.0").build());
    }
    let (_, page) = api_get(&server, "/api/team/summary?limit=100000");
    assert_eq!(page["limit"], 200, "a larger limit is lowered to 200");
    assert_eq!(names(&page).len(), 200);
    assert_eq!(page["total"], 210);
    let (_, last) = api_get(&server, "/api/team/summary?offset=200&limit=50");
    assert_eq!(names(&last), (200..210).map(|i| format!("c{i:03}")).collect::<Vec<_>>());

    for (query, message) in [
        ("offset=-1", "offset is not a valid non-negative integer: \"-1\""),
        ("offset=x", "offset is not a valid non-negative integer: \"x\""),
        ("limit=0", "limit is not a valid positive integer: \"0\""),
        ("limit=1.5", "limit is not a valid positive integer: \"1.5\""),
    ] {
        let (status, body) = api_get(&server, &format!("/api/team/summary?{query}"));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body, serde_json::json!({ "error": message }), "{query}");
        let (status, _) = api_get(&server, &format!("/api/team/charts?q=c&{query}"));
        assert_eq!(status, StatusCode::BAD_REQUEST, "charts {query}");
    }
    let head = client().head(server.url("/api/team/summary")).send().unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.bytes().unwrap().is_empty());
    let post = client().post(server.url("/api/team/summary")).send().unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
}

// ---------------------------------------------------------------------------------------
// the page in headless chromium

/// The folder of tests/browser, once its setup (chromium, playwright-core) is done.
fn browser_folder() -> &'static Path {
    static FOLDER: OnceLock<PathBuf> = OnceLock::new();
    FOLDER.get_or_init(|| set_up("tests/browser/setup.sh"))
}

/// Where screenshots are kept: `<target>/browser-artifacts/`.
fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target folder").join("browser-artifacts")
}

/// Runs tests/browser/browse.mjs on `url` and returns what it saw.
fn browse(url: &str, repo: &str, filter: &str, chart: &str, prefix: &str, next: bool) -> serde_json::Value {
    let folder = browser_folder();
    let task = serde_json::json!({
        "url": url, "repo": repo, "filter": filter, "chart": chart, "next": next,
        "shots": artifacts(), "prefix": prefix,
    });
    let output =
        Command::new("node").arg(folder.join("browse.mjs")).arg(task.to_string()).current_dir(folder).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browse.mjs failed ({}):\n{stdout}\n{stderr}", output.status);
    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("browse.mjs printed no JSON ({e}):\n{stdout}\n{stderr}"));
    assert!(seen["error"].is_null(), "the browser run failed: {}\n{seen:#}", seen["error"].as_str().unwrap_or(""));
    assert_eq!(seen["pageErrors"], serde_json::json!([]), "the page's script threw");
    // Icons that cannot load (there is no network here) are expected; anything else — a
    // policy violation, a failed API call — is not.
    let errors: Vec<&str> = seen["consoleErrors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .filter(|e| !e.starts_with("Failed to load resource: net::"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    for shot in seen["screenshots"].as_array().unwrap() {
        let size = std::fs::metadata(shot.as_str().unwrap()).map(|m| m.len()).unwrap_or(0);
        assert!(size > 5_000, "screenshot {shot} was written ({size} bytes)");
    }
    seen
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// An SVG icon inside the chart (a `data:` URL), so it shows without a network.
const ICON: &str = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnIHZpZXdCb3g9JzAgMCAxMCAxMCc+PGNpcmNsZSBjeD0nNScgY3k9JzUnIHI9JzQnIGZpbGw9JyMwZjVmYzknLz48L3N2Zz4=";

#[test]
fn browser_lists_uploaded_charts_and_the_filter_narrows_them() {
    // DEPTH=2 under a context path: the page's links and fetches must build both.
    let server = Server::start(&[("DEPTH", "2"), ("CONTEXT_PATH", "/helm")]);
    let upload = |repo: &str, package: &[u8]| {
        let response = client().post(server.url(&format!("/helm/api/{repo}/charts"))).body(package.to_vec()).send();
        assert_eq!(response.unwrap().status(), StatusCode::CREATED);
    };
    upload("acme/team", &chart("nginx", "1.1.0", "A web server", None));
    upload("acme/team", &chart("nginx", "1.2.0", "A web server and reverse proxy", Some(ICON)));
    upload("acme/team", &chart("postgres", "12.1.3", "The PostgreSQL database, with replication and backups", None));
    let redis = chart(
        "redis",
        "7.0.1",
        r#"<img src=x onerror="window.__injected=true"><b class=injected>markup</b>"#,
        Some("http://127.0.0.1:9/redis.png"),
    );
    upload("acme/team", &redis);
    upload("acme/team", &chart("redis-operator", "0.4.0", "Runs Redis clusters", None));
    upload("acme/team", &chart("grafana", "8.0.0", "Dashboards", None));
    upload("acme/other", &chart("web", "1.0.0", "Another team's chart", None));

    let seen = browse(&server.url("/helm/"), "acme/team", "redis", "redis", "small", false);
    assert_eq!(seen["status"], 200);
    assert_eq!(seen["firstView"], "repositories");
    assert_eq!(strings(&seen["repositories"]), ["acme/other", "acme/team"]);
    assert_eq!(seen["hash"], "#repo=acme%2Fteam");
    assert_eq!(strings(&seen["initial"]), ["grafana", "nginx", "postgres", "redis", "redis-operator"]);
    assert_eq!(seen["total"], 5);
    let origin = server.url("");
    assert_eq!(seen["repoAdd"], format!("helm repo add acme-team {origin}/helm/acme/team"));
    assert_eq!(seen["icons"][0]["src"], ICON, "the chart's icon is shown");
    assert_eq!(seen["icons"][0]["loaded"], true);

    assert_eq!(strings(&seen["filtered"]), ["redis", "redis-operator"], "the filter narrows");
    assert_eq!(seen["filteredStatus"], "2 charts match “redis”");
    assert_eq!(seen["filteredHash"], "#repo=acme%2Fteam&q=redis");

    let shown = &seen["chart"];
    assert_eq!(shown["name"], "redis");
    assert_eq!(
        shown["description"], r#"<img src=x onerror="window.__injected=true"><b class=injected>markup</b>"#,
        "a description is shown as text"
    );
    assert_eq!(seen["injected"], false, "no markup from a chart ran or rendered");
    assert_eq!(
        strings(&shown["commands"]),
        [
            format!("helm repo add acme-team {origin}/helm/acme/team"),
            "helm pull acme-team/redis --version 7.0.1".into()
        ]
    );
    let version = &shown["versions"][0];
    assert_eq!(version["version"], "7.0.1");
    assert_eq!(version["appVersion"], "7.0.1-app");
    assert_eq!(version["digest"], sha256_hex(&redis));
    assert_eq!(version["pull"], "helm pull acme-team/redis --version 7.0.1");
    assert!(version["created"].as_str().unwrap().ends_with(" UTC"), "{version}");
    assert_eq!(version["download"], format!("{origin}/helm/acme/team/charts/redis-7.0.1.tgz"));
    let download = client().get(version["download"].as_str().unwrap()).send().unwrap();
    assert_eq!(download.bytes().unwrap().as_ref(), &redis[..], "the version's link downloads the package");
    assert_eq!(strings(&shown["crumbs"]), ["Repositories", "acme/team", "redis"]);
    assert_eq!(seen["backRows"], 5);
}

#[test]
fn browser_opens_the_only_repository_of_depth_0() {
    let server = Server::start(&[("DEPTH", "0")]);
    put(&server, "", &chart("nginx", "1.2.0", "A web server", None));
    put(&server, "", &chart("redis", "7.0.1", "Key-value store", None));
    let seen = browse(&server.url("/"), "", "ngi", "nginx", "depth0", false);
    assert_eq!(seen["firstView"], "charts", "one repository opens straight away");
    assert_eq!(seen["title"], "Default repository");
    assert_eq!(strings(&seen["initial"]), ["nginx", "redis"]);
    assert_eq!(strings(&seen["filtered"]), ["nginx"]);
    let origin = server.url("");
    assert_eq!(
        strings(&seen["chart"]["commands"]),
        [format!("helm repo add charthall {origin}"), "helm pull charthall/nginx --version 1.2.0".into()]
    );
    assert_eq!(seen["chart"]["versions"][0]["download"], format!("{origin}/charts/nginx-1.2.0.tgz"));
}

/// 13,000 small packages written into `folder` (`app-00000` … `app-12998` and one chart
/// far down the alphabet, `zookeeper-far-down`), faster than uploading them.
fn write_13000_charts(folder: &Path) {
    std::fs::create_dir_all(folder).unwrap();
    let names = (0..12_999).map(|i| format!("app-{i:05}")).chain(["zookeeper-far-down".to_string()]);
    for name in names {
        let package = ChartBuilder::bare(&name)
            .file("Chart.yaml", format!("apiVersion: v2\nname: {name}\nversion: 1.0.0\ndescription: Chart {name}\n"))
            .build();
        std::fs::write(folder.join(format!("{name}-1.0.0.tgz")), package).unwrap();
    }
}

#[test]
fn browser_reaches_every_chart_of_13000_while_the_page_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    write_13000_charts(&root.join("big"));
    let server = Server::start_in(root, &[], Some(dir));
    put(&server, "big", &chart("nginx", "1.2.0", "Uploaded through the API", None));

    // What a keystroke costs the server: a filter over 13,001 names.
    let started = std::time::Instant::now();
    for _ in 0..50 {
        let (status, found) = api_get(&server, "/api/big/summary?q=zoo");
        assert_eq!((status, found["total"].as_u64()), (StatusCode::OK, Some(1)));
    }
    let per_request = started.elapsed() / 50;
    eprintln!("summary?q=zoo over 13,001 charts: {per_request:?} per request (client included)");

    let seen = browse(&server.url("/"), "big", "zookeeper", "zookeeper-far-down", "big", true);
    assert_eq!(seen["total"], 13_001);
    assert_eq!(seen["firstView"], "charts", "the only repository opens straight away");
    let initial = strings(&seen["initial"]);
    assert_eq!(initial.len(), 50, "one page of rows");
    assert_eq!(initial[0], "app-00000");
    assert_eq!(seen["initialCounts"]["chartRows"], 50);
    assert!(
        seen["initialCounts"]["elements"].as_u64().unwrap() < 1_500,
        "the DOM stays small: {}",
        seen["initialCounts"]
    );
    assert_eq!(seen["status_line"], "13,001 charts");
    assert_eq!(strings(&seen["nextPage"]["rows"])[0], "app-00050");
    assert_eq!(seen["nextPage"]["where"], "51–100 of 13,001");

    assert_eq!(strings(&seen["filtered"]), ["zookeeper-far-down"], "the last chart is one filter away");
    assert_eq!(seen["filteredCounts"]["chartRows"], 1);
    assert_eq!(seen["chart"]["name"], "zookeeper-far-down");
    assert_eq!(seen["chart"]["commands"][1], "helm pull big/zookeeper-far-down --version 1.0.0");
    eprintln!("typing \"zookeeper\" until the list showed it: {} ms", seen["filterMillis"]);
}
