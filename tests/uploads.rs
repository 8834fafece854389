//! Black-box tests of the write side: raw and multipart uploads, every class of refused
//! package (which must write nothing and leave the index as it was), size limits,
//! overwrite rules, provenance uploads and deletes.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------
// helpers (local to this file; tests/common is shared)

fn upload_to(server: &Server, path: &str, body: impl Into<reqwest::blocking::Body>) -> Response {
    client().post(server.url(path)).body(body).send().expect("POST")
}

fn delete(server: &Server, path: &str) -> (StatusCode, serde_json::Value) {
    let response = client().delete(server.url(path)).send().expect("DELETE");
    let status = response.status();
    (status, json(response))
}

fn digest_in_index(server: &Server, repo: &str, name: &str, version: &str) -> String {
    let index = index_of(server, &format!("/{repo}/index.yaml"));
    let entries = index["entries"][name].as_sequence().cloned().unwrap_or_default();
    let matching: Vec<_> = entries.iter().filter(|e| e["version"].as_str() == Some(version)).collect();
    assert_eq!(matching.len(), 1, "entries for {name} {version}: {entries:?}");
    matching[0]["digest"].as_str().unwrap().to_string()
}

/// What a refusal must leave alone: the files and both encodings of the index.
struct Before {
    files: Vec<String>,
    index: Vec<u8>,
    index_gzip: Vec<u8>,
}

fn before(server: &Server, repo: &str) -> Before {
    let path = format!("/{repo}/index.yaml");
    Before {
        files: files_under(&server.root),
        index: server.get(&path).bytes().unwrap().to_vec(),
        index_gzip: get_gzip(server, &path).bytes().unwrap().to_vec(),
    }
}

fn assert_unchanged(server: &Server, repo: &str, was: &Before) {
    let path = format!("/{repo}/index.yaml");
    assert_eq!(files_under(&server.root), was.files, "files changed");
    assert_eq!(server.get(&path).bytes().unwrap().to_vec(), was.index, "index changed");
    assert_eq!(get_gzip(server, &path).bytes().unwrap().to_vec(), was.index_gzip, "gzip index changed");
}

/// A server whose repository `team` already holds `web-1.0.0`.
fn seeded() -> Server {
    let server = Server::in_process(&[]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    server
}

/// Uploads `body` raw to `team` and expects a `400` refusal whose error contains `phrase`,
/// with nothing written and the index unchanged.
fn assert_refused(body: &[u8], phrase: &str) {
    let server = seeded();
    let was = before(&server, "team");
    let response = server.upload("team", body);
    let status = response.status();
    let answer = json(response);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["saved"], false, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains(phrase), "error {error:?} does not name {phrase:?}");
    assert_unchanged(&server, "team", &was);
}

const CHART_YAML_OK: &[u8] = b"apiVersion: v2\nname: x\nversion: 1.0.0\n";

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs the real `curl` with `args` and answers (status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl").args(["-s", "-S", "-w", "\n%{http_code}"]).args(args).output().expect("run curl");
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

/// Uploads a `web` 1.0.0 package to repository `team` with real curl, `how` turning the
/// package file's path into curl's arguments, and checks it is saved byte for byte.
fn curl_saves(server: &Server, how: impl Fn(&Path) -> Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let package = ChartBuilder::new("web", "1.0.0").build();
    let file = write_temp(dir.path(), "web-1.0.0.tgz", &package);
    let url = server.url("/api/team/charts");
    let args = how(&file);
    let args: Vec<&str> = args.iter().map(String::as_str).chain([url.as_str()]).collect();
    let (status, body) = curl(&args);
    assert_eq!(status, 201, "{body}");
    assert_eq!(parse(&body), serde_json::json!({"saved": true}));
    assert_eq!(std::fs::read(server.root.join("team/web-1.0.0.tgz")).unwrap(), package);
}

/// A 409 refusal of an existing version or provenance file.
fn assert_conflict(response: Response) {
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let answer = json(response);
    assert_eq!(answer["error"], "file already exists");
    assert_eq!(answer["saved"], false);
}

fn parse(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn prov_for(name: &str, version: &str) -> String {
    format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\nname: {name}\nversion: {version}\n\n...\nfiles:\n  {name}-{version}.tgz: sha256:0000\n-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJ\n-----END PGP SIGNATURE-----\n"
    )
}

// ---------------------------------------------------------------------------------------
// successful raw uploads

#[test]
fn raw_upload_is_saved_on_disk_and_in_the_next_index() {
    let server = Server::in_process(&[]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    let response = server.upload("team", &package);
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(response.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/json"));
    assert_eq!(json(response), serde_json::json!({"saved": true}));
    assert_eq!(std::fs::read(server.root.join("team/web-1.0.0.tgz")).unwrap(), package);
    assert_eq!(files_under(&server.root), ["team/web-1.0.0.tgz"]);
    // The very next reads, in both encodings, list it.
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
    assert_eq!(index["entries"]["web"][0]["digest"].as_str().unwrap(), sha256_hex(&package));
    let zipped = get_gzip(&server, "/team/index.yaml").bytes().unwrap();
    let index = yaml(std::str::from_utf8(&gunzip(&zipped)).unwrap());
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
    assert_eq!(server.get("/api/team/charts/web/1.0.0").status(), StatusCode::OK);
}

#[test]
fn upload_names_the_file_from_chart_yaml_not_the_upload_name() {
    let server = Server::in_process(&[]);
    let dir = tempfile::tempdir().unwrap();
    let package = ChartBuilder::new("web", "1.0.0").build();
    let file = write_temp(dir.path(), "wrong-9.9.9.tgz", &package);
    let (status, body) = curl(&["-F", &format!("chart=@{}", file.display()), &server.url("/api/team/charts")]);
    assert_eq!(status, 201, "{body}");
    assert_eq!(files_under(&server.root), ["team/web-1.0.0.tgz"]);
    // The top-level directory's name does not matter either.
    let renamed =
        ChartBuilder::bare("some-dir").file("Chart.yaml", "apiVersion: v2\nname: db\nversion: 2.0.0\n").build();
    put(&server, "team", &renamed);
    assert!(server.root.join("team/db-2.0.0.tgz").exists());
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "db"), ["2.0.0"]);
    assert!(index["entries"].get("wrong").is_none());
}

#[test]
fn first_upload_creates_the_repository() {
    let server = Server::in_process(&[]);
    let list = server.get("/").text().unwrap();
    assert!(!list.contains("fresh"), "{list}");
    put(&server, "fresh", &ChartBuilder::new("web", "1.0.0").build());
    let list = yaml(&server.get("/").text().unwrap());
    let repos: Vec<&str> = list["repos"].as_sequence().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(repos, ["fresh"]);
    assert!(server.root.join("fresh/web-1.0.0.tgz").exists());
}

#[test]
fn raw_curl_data_binary_upload_is_saved() {
    let server = Server::in_process(&[]);
    curl_saves(&server, |file| vec!["--data-binary".into(), format!("@{}", file.display())]);
}

// ---------------------------------------------------------------------------------------
// refusals: 400, an error naming the problem, "saved":false, nothing written

#[test]
fn refuses_empty_body() {
    assert_refused(b"", "empty");
}

#[test]
fn refuses_plain_text_as_not_gzip() {
    assert_refused(b"this is plain text, certainly not a chart package", "gzip: invalid header");
}

#[test]
fn refuses_gzip_that_is_not_tar() {
    let text = "not a tar archive, just text\n".repeat(64);
    assert_refused(&gzip(text.as_bytes()), "tar");
}

#[test]
fn refuses_truncated_gzip() {
    let package = ChartBuilder::new("x", "1.0.0").build();
    let server = seeded();
    let was = before(&server, "team");
    let response = server.upload("team", &package[..package.len() / 2]);
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer = json(response);
    assert_eq!(answer["saved"], false);
    assert!(!answer["error"].as_str().unwrap().is_empty());
    assert_unchanged(&server, "team", &was);
}

#[test]
fn refuses_tar_without_chart_yaml() {
    assert_refused(&ChartBuilder::new("x", "1.0.0").without("Chart.yaml").build(), "Chart.yaml file is missing");
}

#[test]
fn refuses_bad_yaml_in_chart_yaml() {
    assert_refused(
        &ChartBuilder::new("x", "1.0.0").file("Chart.yaml", "name: [unclosed\nversion: 1.0.0\n").build(),
        "Chart.yaml",
    );
}

#[test]
fn refuses_missing_name() {
    assert_refused(
        &ChartBuilder::new("x", "1.0.0").file("Chart.yaml", "apiVersion: v2\nversion: 1.0.0\n").build(),
        "chart.metadata.name is required",
    );
}

#[test]
fn refuses_missing_version() {
    assert_refused(
        &ChartBuilder::new("x", "1.0.0").file("Chart.yaml", "apiVersion: v2\nname: x\n").build(),
        "validation: chart.metadata.version is required",
    );
}

#[test]
fn refuses_non_semver_version() {
    assert_refused(&ChartBuilder::new("x", "abc").build(), "validation: chart.metadata.version \"abc\" is invalid");
}

#[test]
fn refuses_name_with_parent_directory() {
    assert_refused(
        &ChartBuilder::bare("evil").file("Chart.yaml", "apiVersion: v2\nname: ../../evil\nversion: 1.0.0\n").build(),
        "chart.metadata.name \"../../evil\" is invalid",
    );
}

#[test]
fn refuses_name_with_slash() {
    assert_refused(
        &ChartBuilder::bare("ab").file("Chart.yaml", "apiVersion: v2\nname: a/b\nversion: 1.0.0\n").build(),
        "chart.metadata.name \"a/b\" is invalid",
    );
}

#[test]
fn refuses_name_with_space() {
    assert_refused(
        &ChartBuilder::bare("ab").file("Chart.yaml", "apiVersion: v2\nname: my chart\nversion: 1.0.0\n").build(),
        "chart.metadata.name \"my chart\" is invalid",
    );
}

#[test]
fn refuses_file_at_archive_root() {
    assert_refused(&ChartBuilder::raw_entries(&[("Chart.yaml", CHART_YAML_OK)]), "outside the base directory");
    assert_refused(
        &ChartBuilder::raw_entries(&[("x/Chart.yaml", CHART_YAML_OK), ("README.md", b"hi")]),
        "outside the base directory",
    );
}

#[test]
fn refuses_parent_directory_entry() {
    assert_refused(
        &ChartBuilder::raw_entries(&[("x/Chart.yaml", CHART_YAML_OK), ("x/../../evil.txt", b"evil")]),
        "chart illegally references parent directory",
    );
}

#[test]
fn refuses_absolute_path_entry() {
    assert_refused(
        &ChartBuilder::raw_entries(&[("x/Chart.yaml", CHART_YAML_OK), ("/tmp/charthall-evil.txt", b"evil")]),
        "absolute",
    );
    assert!(!Path::new("/tmp/charthall-evil.txt").exists());
}

#[test]
fn refuses_two_top_level_directories() {
    assert_refused(
        &ChartBuilder::raw_entries(&[("x/Chart.yaml", CHART_YAML_OK), ("y/values.yaml", b"a: 1\n")]),
        "top-level",
    );
}

#[test]
fn refuses_symlink_entry() {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(CHART_YAML_OK.len() as u64);
    header.set_mode(0o644);
    tar.append_data(&mut header, "x/Chart.yaml", CHART_YAML_OK).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    header.set_mode(0o777);
    header.set_link_name("/etc/passwd").unwrap();
    tar.append_data(&mut header, "x/templates/passwd.yaml", std::io::empty()).unwrap();
    assert_refused(&gzip(&tar.into_inner().unwrap()), "link");
}

#[test]
fn refuses_a_file_over_5_mib_inside() {
    let package = ChartBuilder::new("big", "1.0.0").file("files/big.bin", vec![0u8; 5 * 1024 * 1024 + 1]).build();
    assert!(package.len() < 1024 * 1024, "zeros compress");
    assert_refused(&package, "5242880");
}

#[test]
fn refuses_multipart_without_chart_field_naming_the_fields() {
    let server = seeded();
    let was = before(&server, "team");
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "x-1.0.0.tgz", &ChartBuilder::new("x", "1.0.0").build());
    let (status, body) = curl(&["-F", &format!("unknown=@{}", file.display()), &server.url("/api/team/charts")]);
    assert_eq!(status, 400, "{body}");
    let answer = parse(&body);
    assert_eq!(answer["saved"], false);
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("chart") && error.contains("prov"), "{error}");
    assert_unchanged(&server, "team", &was);
}

#[test]
fn refused_upload_to_a_new_repository_creates_nothing() {
    let server = Server::in_process(&[]);
    let response = server.upload("newrepo", b"garbage that is not a chart");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(files_under(&server.root).is_empty());
    assert!(!server.root.join("newrepo").exists());
    let list = server.get("/").text().unwrap();
    assert!(!list.contains("newrepo"), "{list}");
}

#[test]
fn over_max_upload_size_is_413_and_writes_nothing() {
    let server = Server::in_process(&[("MAX_UPLOAD_SIZE", "1000")]);
    let small = ChartBuilder::bare("s").file("Chart.yaml", "apiVersion: v2\nname: s\nversion: 1.0.0\n").build();
    assert!(small.len() < 1000);
    put(&server, "team", &small);
    let was = before(&server, "team");
    let big = ChartBuilder::new("web", "1.0.0").file("files/noise.bin", noise(4000)).build();
    assert!(big.len() > 1000);
    let response = server.upload("team", &big);
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_unchanged(&server, "team", &was);
    // Chunked (no Content-Length) too.
    let response = client()
        .post(server.url("/api/team/charts"))
        .body(reqwest::blocking::Body::new(std::io::Cursor::new(big)))
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_unchanged(&server, "team", &was);
}

// ---------------------------------------------------------------------------------------
// overwrite rules

#[test]
fn same_version_twice_is_409_file_already_exists() {
    let server = seeded();
    let was = before(&server, "team");
    let other = ChartBuilder::new("web", "1.0.0").file("templates/extra.yaml", "kind: Secret\n").build();
    let response = server.upload("team", &other);
    assert_conflict(response);
    assert_unchanged(&server, "team", &was);
}

#[test]
fn force_query_overwrites_and_updates_the_digest() {
    let server = seeded();
    let other = ChartBuilder::new("web", "1.0.0").file("templates/extra.yaml", "kind: Secret\n").build();
    let response = upload_to(&server, "/api/team/charts?force", other.clone());
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(digest_in_index(&server, "team", "web", "1.0.0"), sha256_hex(&other));
    assert_eq!(std::fs::read(server.root.join("team/web-1.0.0.tgz")).unwrap(), other);
    assert_eq!(files_under(&server.root), ["team/web-1.0.0.tgz"]);
}

#[test]
fn force_false_still_forces() {
    let server = seeded();
    let other = ChartBuilder::new("web", "1.0.0").file("README.md", "changed\n").build();
    let response = upload_to(&server, "/api/team/charts?force=false", other.clone());
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(digest_in_index(&server, "team", "web", "1.0.0"), sha256_hex(&other));
}

#[test]
fn disable_force_overwrite_ignores_force() {
    let server = Server::in_process(&[("DISABLE_FORCE_OVERWRITE", "true")]);
    let first = ChartBuilder::new("web", "1.0.0").build();
    put(&server, "team", &first);
    let was = before(&server, "team");
    let other = ChartBuilder::new("web", "1.0.0").file("README.md", "changed\n").build();
    let response = upload_to(&server, "/api/team/charts?force", other);
    assert_conflict(response);
    assert_unchanged(&server, "team", &was);
    assert_eq!(digest_in_index(&server, "team", "web", "1.0.0"), sha256_hex(&first));
}

#[test]
fn allow_overwrite_replaces_and_keeps_one_entry() {
    let server = Server::in_process(&[("ALLOW_OVERWRITE", "true")]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    let other = ChartBuilder::new("web", "1.0.0").file("README.md", "changed\n").build();
    put(&server, "team", &other);
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
    assert_eq!(index["entries"]["web"][0]["digest"].as_str().unwrap(), sha256_hex(&other));
    assert_eq!(files_under(&server.root), ["team/web-1.0.0.tgz"]);
}

// ---------------------------------------------------------------------------------------
// semantic versions: lenient by default, strict with ENFORCE_SEMVER2

#[test]
fn lenient_versions_are_accepted_by_default() {
    let server = Server::in_process(&[]);
    put(&server, "team", &ChartBuilder::new("vee", "v1.2").build());
    put(&server, "team", &ChartBuilder::new("short", "1.2").build());
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "vee"), ["v1.2"]);
    assert_eq!(index_versions(&index, "short"), ["1.2"]);
    assert!(server.root.join("team/vee-v1.2.tgz").exists());
    assert!(server.root.join("team/short-1.2.tgz").exists());
}

#[test]
fn enforce_semver2_refuses_lenient_versions() {
    let server = Server::in_process(&[("ENFORCE_SEMVER2", "true")]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    let was = before(&server, "team");
    for version in ["v1.2", "1.2"] {
        let response = server.upload("team", &ChartBuilder::new("strict", version).build());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{version}");
        let answer = json(response);
        assert_eq!(answer["saved"], false);
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains("chart.metadata.version") && error.contains(version), "{error}");
    }
    assert_unchanged(&server, "team", &was);
}

// ---------------------------------------------------------------------------------------
// multipart uploads (real curl)

#[test]
fn multipart_chart_field_upload_is_saved() {
    let server = Server::in_process(&[]);
    curl_saves(&server, |file| vec!["-F".into(), format!("chart=@{}", file.display())]);
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
}

#[test]
fn multipart_chart_and_prov_stores_both() {
    let server = Server::in_process(&[]);
    let dir = tempfile::tempdir().unwrap();
    let package = ChartBuilder::new("web", "1.0.0").build();
    let prov = prov_for("web", "1.0.0");
    let chart_file = write_temp(dir.path(), "web-1.0.0.tgz", &package);
    let prov_file = write_temp(dir.path(), "web-1.0.0.tgz.prov", prov.as_bytes());
    let (status, body) = curl(&[
        "-F",
        &format!("chart=@{}", chart_file.display()),
        "-F",
        &format!("prov=@{}", prov_file.display()),
        &server.url("/api/team/charts"),
    ]);
    assert_eq!(status, 201, "{body}");
    assert_eq!(files_under(&server.root), ["team/web-1.0.0.tgz", "team/web-1.0.0.tgz.prov"]);
    assert_eq!(std::fs::read_to_string(server.root.join("team/web-1.0.0.tgz.prov")).unwrap(), prov);
    let download = server.get("/team/charts/web-1.0.0.tgz.prov");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.text().unwrap(), prov);
}

#[test]
fn multipart_existing_chart_is_409_and_force_overwrites() {
    let server = seeded();
    let dir = tempfile::tempdir().unwrap();
    let other = ChartBuilder::new("web", "1.0.0").file("README.md", "changed\n").build();
    let file = write_temp(dir.path(), "web-1.0.0.tgz", &other);
    let field = format!("chart=@{}", file.display());
    let (status, body) = curl(&["-F", &field, &server.url("/api/team/charts")]);
    assert_eq!(status, 409, "{body}");
    assert_eq!(parse(&body)["saved"], false);
    let (status, body) = curl(&["-F", &field, &server.url("/api/team/charts?force")]);
    assert_eq!(status, 201, "{body}");
    assert_eq!(digest_in_index(&server, "team", "web", "1.0.0"), sha256_hex(&other));
}

#[test]
fn custom_chart_field_name_works_and_chart_still_works() {
    let server = Server::in_process(&[("CHART_POST_FORM_FIELD_NAME", "pkg")]);
    let dir = tempfile::tempdir().unwrap();
    let one = write_temp(dir.path(), "a.tgz", &ChartBuilder::new("web", "1.0.0").build());
    let two = write_temp(dir.path(), "b.tgz", &ChartBuilder::new("web", "2.0.0").build());
    let (status, body) = curl(&["-F", &format!("pkg=@{}", one.display()), &server.url("/api/team/charts")]);
    assert_eq!(status, 201, "{body}");
    let (status, body) = curl(&["-F", &format!("chart=@{}", two.display()), &server.url("/api/team/charts")]);
    assert_eq!(status, 201, "{body}");
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["2.0.0", "1.0.0"]);
    // The error for a form without them names the configured field.
    let (status, body) = curl(&["-F", &format!("other=@{}", one.display()), &server.url("/api/team/charts")]);
    assert_eq!(status, 400, "{body}");
    assert!(parse(&body)["error"].as_str().unwrap().contains("pkg"), "{body}");
}

#[test]
fn custom_prov_field_name_works() {
    let server = Server::in_process(&[("PROV_POST_FORM_FIELD_NAME", "sig")]);
    let dir = tempfile::tempdir().unwrap();
    let chart = write_temp(dir.path(), "web.tgz", &ChartBuilder::new("web", "1.0.0").build());
    let prov = write_temp(dir.path(), "web.tgz.prov", prov_for("web", "1.0.0").as_bytes());
    let (status, body) = curl(&[
        "-F",
        &format!("chart=@{}", chart.display()),
        "-F",
        &format!("sig=@{}", prov.display()),
        &server.url("/api/team/charts"),
    ]);
    assert_eq!(status, 201, "{body}");
    assert_eq!(files_under(&server.root), ["team/web-1.0.0.tgz", "team/web-1.0.0.tgz.prov"]);
}

#[test]
fn multipart_prov_field_holding_a_package_is_refused() {
    let server = seeded();
    let was = before(&server, "team");
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "x.tgz", &ChartBuilder::new("x", "1.0.0").build());
    let (status, body) = curl(&["-F", &format!("prov=@{}", file.display()), &server.url("/api/team/charts")]);
    assert_eq!(status, 400, "{body}");
    assert!(parse(&body)["error"].as_str().unwrap().contains("provenance"));
    assert_unchanged(&server, "team", &was);
}

// ---------------------------------------------------------------------------------------
// provenance uploads

#[test]
fn raw_provenance_upload_is_saved_and_downloadable() {
    let server = seeded();
    let prov = prov_for("web", "1.0.0");
    let response = upload_to(&server, "/api/team/prov", prov.clone());
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(json(response), serde_json::json!({"saved": true}));
    let download = server.get("/team/charts/web-1.0.0.tgz.prov");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.text().unwrap(), prov);
    assert!(server.root.join("team/web-1.0.0.tgz.prov").exists());
}

#[test]
fn minimal_provenance_is_accepted_and_twice_is_409() {
    let server = Server::in_process(&[]);
    let prov = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: x\nversion: 1.0.0\n";
    let response = upload_to(&server, "/api/team/prov", prov);
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(server.get("/team/charts/x-1.0.0.tgz.prov").text().unwrap(), prov);
    let was = before(&server, "team");
    let response = upload_to(&server, "/api/team/prov", prov);
    assert_conflict(response);
    assert_unchanged(&server, "team", &was);
}

#[test]
fn invalid_provenance_is_400_and_writes_nothing() {
    let server = seeded();
    let was = before(&server, "team");
    for body in [
        "hello".to_string(),
        String::new(),
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nversion: 1.0.0\n".to_string(),
        prov_for("../../evil", "1.0.0"),
    ] {
        let response = upload_to(&server, "/api/team/prov", body.clone());
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        let answer = json(response);
        assert_eq!(answer["saved"], false);
        assert!(!answer["error"].as_str().unwrap().is_empty());
    }
    assert_unchanged(&server, "team", &was);
}

// ---------------------------------------------------------------------------------------
// deletes

#[test]
fn delete_removes_package_prov_and_index_entry() {
    let server = Server::in_process(&[]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    put(&server, "team", &ChartBuilder::new("web", "2.0.0").build());
    let response = upload_to(&server, "/api/team/prov", prov_for("web", "1.0.0"));
    assert_eq!(response.status(), StatusCode::CREATED);

    let (status, body) = delete(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({"deleted": true}));
    assert_eq!(files_under(&server.root), ["team/web-2.0.0.tgz"]);
    let index = index_of(&server, "/team/index.yaml");
    assert_eq!(index_versions(&index, "web"), ["2.0.0"]);
    assert_eq!(server.get("/api/team/charts/web/1.0.0").status(), StatusCode::NOT_FOUND);
    assert_eq!(server.get("/team/charts/web-1.0.0.tgz").status(), StatusCode::NOT_FOUND);
    assert_eq!(server.get("/team/charts/web-1.0.0.tgz.prov").status(), StatusCode::NOT_FOUND);
}

#[test]
fn second_delete_is_404_deleted_false() {
    let server = seeded();
    let (status, _) = delete(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
    let (status, body) = delete(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["deleted"], false);
    assert!(!body["error"].as_str().unwrap().is_empty());
    let (status, body) = delete(&server, "/api/nobody/charts/web/1.0.0");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["deleted"], false);
}

#[test]
fn deleting_the_last_version_removes_the_chart_name() {
    let server = seeded();
    put(&server, "team", &ChartBuilder::new("db", "1.0.0").build());
    let (status, _) = delete(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
    let index = index_of(&server, "/team/index.yaml");
    assert!(index["entries"].get("web").is_none(), "{index:?}");
    assert_eq!(index_versions(&index, "db"), ["1.0.0"]);
    let charts = json(server.get("/api/team/charts"));
    assert!(charts.get("web").is_none(), "{charts}");
    assert!(charts.get("db").is_some(), "{charts}");
    let response = server.get("/api/team/charts/web");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(response)["error"], "chart not found");
}

#[test]
fn deleting_everything_leaves_an_empty_index() {
    let server = seeded();
    let (status, _) = delete(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
    let body = server.get("/team/index.yaml").text().unwrap();
    assert!(body.contains("entries: {}"), "{body}");
    assert_eq!(json(server.get("/api/team/charts")), serde_json::json!({}));
}

#[test]
fn disable_delete_refuses_and_keeps_the_file() {
    let server = Server::in_process(&[("DISABLE_DELETE", "true")]);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    let was = before(&server, "team");
    let (status, body) = delete(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(server.root.join("team/web-1.0.0.tgz").exists());
    assert_unchanged(&server, "team", &was);
    assert_eq!(server.get("/api/team/charts/web/1.0.0").status(), StatusCode::OK);
}

#[test]
fn upload_after_delete_is_accepted_again() {
    let server = seeded();
    let (status, _) = delete(&server, "/api/team/charts/web/1.0.0");
    assert_eq!(status, StatusCode::OK);
    let again = ChartBuilder::new("web", "1.0.0").file("README.md", "second life\n").build();
    put(&server, "team", &again);
    assert_eq!(digest_in_index(&server, "team", "web", "1.0.0"), sha256_hex(&again));
}

#[test]
fn multipart_chart_field_holding_a_prov_is_refused() {
    let server = seeded();
    let was = before(&server, "team");
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "x-1.0.0.tgz.prov", prov_for("x", "1.0.0").as_bytes());
    let (status, body) = curl(&["-F", &format!("chart=@{}", file.display()), &server.url("/api/team/charts")]);
    assert_eq!(status, 400, "{body}");
    let answer = parse(&body);
    assert_eq!(answer["saved"], false);
    assert!(answer["error"].as_str().unwrap().contains("gzip"), "{body}");
    assert_unchanged(&server, "team", &was);
}

#[test]
fn multipart_conflict_on_the_chart_writes_no_prov() {
    let server = seeded();
    let was = before(&server, "team");
    let dir = tempfile::tempdir().unwrap();
    let chart = write_temp(dir.path(), "web.tgz", &ChartBuilder::new("web", "1.0.0").file("README.md", "x\n").build());
    let prov = write_temp(dir.path(), "web.tgz.prov", prov_for("web", "1.0.0").as_bytes());
    let (status, body) = curl(&[
        "-F",
        &format!("chart=@{}", chart.display()),
        "-F",
        &format!("prov=@{}", prov.display()),
        &server.url("/api/team/charts"),
    ]);
    assert_eq!(status, 409, "{body}");
    assert_eq!(parse(&body)["saved"], false);
    assert_unchanged(&server, "team", &was);
    assert!(!server.root.join("team/web-1.0.0.tgz.prov").exists());
}

#[test]
fn provenance_force_overwrites_unless_disabled() {
    let server = Server::in_process(&[]);
    let first = prov_for("web", "1.0.0");
    let second = first.replace("sha256:0000", "sha256:1111");
    assert_eq!(upload_to(&server, "/api/team/prov", first).status(), StatusCode::CREATED);
    assert_eq!(upload_to(&server, "/api/team/prov?force", second.clone()).status(), StatusCode::CREATED);
    assert_eq!(std::fs::read_to_string(server.root.join("team/web-1.0.0.tgz.prov")).unwrap(), second);

    let server = Server::in_process(&[("DISABLE_FORCE_OVERWRITE", "true")]);
    let first = prov_for("web", "1.0.0");
    assert_eq!(upload_to(&server, "/api/team/prov", first.clone()).status(), StatusCode::CREATED);
    let response = upload_to(&server, "/api/team/prov?force", second);
    assert_conflict(response);
    assert_eq!(std::fs::read_to_string(server.root.join("team/web-1.0.0.tgz.prov")).unwrap(), first);
}

#[test]
fn over_max_upload_size_prov_is_413() {
    let server = Server::in_process(&[("MAX_UPLOAD_SIZE", "100")]);
    let response = upload_to(&server, "/api/team/prov", prov_for("web", "1.0.0"));
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(files_under(&server.root).is_empty());
}

#[test]
fn malformed_multipart_is_400_and_writes_nothing() {
    let server = seeded();
    let was = before(&server, "team");
    let response = client()
        .post(server.url("/api/team/charts"))
        .header("Content-Type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"chart\"; filename=\"x.tgz\"\r\n\r\ntruncated")
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(response)["saved"], false);
    assert_unchanged(&server, "team", &was);
}

#[test]
fn a_provenance_file_over_1_mib_is_refused_before_it_is_read() {
    let server = Server::in_process(&[]);
    let huge = vec![b'x'; 2 * 1024 * 1024];
    let response = client().post(server.url("/api/team/prov")).body(huge).send().unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json(response);
    assert_eq!(body["error"], "the provenance file is 2097152 bytes; a provenance file is a few KiB (at most 1048576)");
    assert!(files_under(&server.root).is_empty(), "nothing written: {:?}", files_under(&server.root));
}
