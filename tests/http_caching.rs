//! Headers that let clients, proxies and CDNs cache: the index revalidates with its
//! ETag; a package carries its digest and is immutable when no upload can replace it.
mod common;
use common::*;

use reqwest::header::{CACHE_CONTROL, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

#[test]
fn the_index_revalidates() {
    let server = Server::in_process(&[]);
    server.upload("team", &ChartBuilder::new("web", "1.0.0").build());
    let first = server.get("/team/index.yaml");
    assert_eq!(header(&first, CACHE_CONTROL), "no-cache");
    let (etag, modified) = (header(&first, ETAG), header(&first, LAST_MODIFIED));
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong ETag: {etag}");
    let by_tag = client().get(server.url("/team/index.yaml")).header(IF_NONE_MATCH, &etag).send().unwrap();
    assert_eq!(by_tag.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&by_tag, ETAG), etag);
    assert!(by_tag.bytes().unwrap().is_empty());
    let by_date = client().get(server.url("/team/index.yaml")).header(IF_MODIFIED_SINCE, &modified).send().unwrap();
    assert_eq!(by_date.status(), StatusCode::NOT_MODIFIED);
    let old_date = "Mon, 01 Jan 2024 00:00:00 GMT";
    let stale = client().get(server.url("/team/index.yaml")).header(IF_MODIFIED_SINCE, old_date).send().unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
}

#[test]
fn a_package_carries_its_digest_and_revalidates_while_overwrites_are_possible() {
    let server = Server::in_process(&[]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    server.upload("team", &package);
    let response = server.get("/team/charts/web-1.0.0.tgz");
    assert_eq!(header(&response, ETAG), format!("\"{}\"", sha256_hex(&package)));
    assert_eq!(header(&response, CACHE_CONTROL), "no-cache", "?force can still replace it");
    let etag = header(&response, ETAG);
    let again = client().get(server.url("/team/charts/web-1.0.0.tgz")).header(IF_NONE_MATCH, etag).send().unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // After a forced overwrite the tag follows the new bytes.
    let replacement = ChartBuilder::new("web", "1.0.0").file("values.yaml", "replicas: 9\n").build();
    let forced = client().post(server.url("/api/team/charts?force")).body(replacement.clone()).send().unwrap();
    assert_eq!(forced.status(), StatusCode::CREATED);
    let response = server.get("/team/charts/web-1.0.0.tgz");
    assert_eq!(header(&response, ETAG), format!("\"{}\"", sha256_hex(&replacement)));
    assert_eq!(response.bytes().unwrap().to_vec(), replacement);
}

#[test]
fn a_package_is_immutable_when_no_upload_can_replace_it() {
    let server = Server::in_process(&[("DISABLE_FORCE_OVERWRITE", "true")]);
    server.upload("team", &ChartBuilder::new("web", "1.0.0").build());
    let response = server.get("/team/charts/web-1.0.0.tgz");
    assert_eq!(header(&response, CACHE_CONTROL), "public, max-age=31536000, immutable");

    let overwrite = Server::in_process(&[("DISABLE_FORCE_OVERWRITE", "true"), ("ALLOW_OVERWRITE", "true")]);
    overwrite.upload("team", &ChartBuilder::new("web", "1.0.0").build());
    assert_eq!(header(&overwrite.get("/team/charts/web-1.0.0.tgz"), CACHE_CONTROL), "no-cache");
}

#[test]
fn behind_basic_auth_only_private_caches_may_keep_packages() {
    let server =
        Server::in_process(&[("DISABLE_FORCE_OVERWRITE", "true"), ("BASIC_AUTH_USER", "u"), ("BASIC_AUTH_PASS", "p")]);
    let upload = client().post(server.url("/api/team/charts")).basic_auth("u", Some("p"));
    assert_eq!(upload.body(ChartBuilder::new("web", "1.0.0").build()).send().unwrap().status(), StatusCode::CREATED);
    let response = client().get(server.url("/team/charts/web-1.0.0.tgz")).basic_auth("u", Some("p")).send().unwrap();
    assert_eq!(header(&response, CACHE_CONTROL), "private, max-age=31536000, immutable");
}

#[test]
fn files_that_are_not_indexed_packages_have_no_digest_tag() {
    let server = Server::in_process(&[]);
    std::fs::create_dir_all(server.root.join("team")).unwrap();
    std::fs::write(server.root.join("team/web-1.0.0.tgz.prov"), "-----BEGIN PGP SIGNED MESSAGE-----\n").unwrap();
    let response = server.get("/team/charts/web-1.0.0.tgz.prov");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, ETAG), "");
    assert_eq!(header(&response, CACHE_CONTROL), "no-cache");
}

#[test]
fn an_upload_replaces_a_broken_file_under_its_name() {
    let (_dir, root) = {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("team")).unwrap();
        std::fs::write(root.join("team/web-1.0.0.tgz"), b"").unwrap();
        (dir, root)
    };
    let server = Server::in_process_in(root.clone(), &[], None);
    let package = ChartBuilder::new("web", "1.0.0").build();
    let response = server.upload("team", &package);
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().unwrap());
    assert_eq!(std::fs::read(root.join("team/web-1.0.0.tgz")).unwrap(), package);
    assert_eq!(index_versions(&yaml(&server.get("/team/index.yaml").text().unwrap()), "web"), ["1.0.0"]);
}
