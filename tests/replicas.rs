//! Several ChartHall replicas on one bucket of a real S3 store (a Garage cluster on
//! 127.0.0.1): uploads through any replica reach every replica's index within a second,
//! racing creates end as the README says with every digest served matching the bytes
//! served, a replica killed or started from nothing catches up from the bucket, and a
//! store node lost mid-test loses no acknowledged upload.
//!
//! The tests take turns (one lock): each runs a store cluster and three servers, and the
//! one-second bar is measured, so they must not crowd each other off two cores.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::garage::Garage;
use common::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// The freshness bar: an acknowledged change is in every replica's index within this.
const FRESH: Duration = Duration::from_secs(1);

/// A replica on `garage`'s node `node`, under the key prefix `prefix`.
fn replica(garage: &Garage, node: usize, prefix: &str) -> Server {
    let env = garage.env(node, prefix);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start(&env)
}

/// (chart, version) → digest, as a replica's index lists them.
fn digests(server: &Server, repo: &str) -> BTreeMap<(String, String), String> {
    let index = index_of(server, &format!("/{repo}/index.yaml"));
    let mut found = BTreeMap::new();
    for (name, versions) in index["entries"].as_mapping().expect("entries") {
        for version in versions.as_sequence().unwrap() {
            found.insert(
                (name.as_str().unwrap().to_string(), version["version"].as_str().unwrap().to_string()),
                version["digest"].as_str().unwrap().to_string(),
            );
        }
    }
    found
}

/// Waits until `server` lists (or, with `None`, no longer lists) `name` `version`;
/// returns how long that took. Fails after 10 s.
fn wait_for(server: &Server, repo: &str, name: &str, version: &str, digest: Option<&str>) -> Duration {
    let started = Instant::now();
    loop {
        let listed = digests(server, repo).remove(&(name.to_string(), version.to_string()));
        if listed.as_deref() == digest {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "replica on port {} still lists {name} {version} as {listed:?}, not {digest:?}, after 10 s",
            server.port
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every version a replica lists downloads from it with the digest it lists.
fn assert_digests_match_bytes(server: &Server, repo: &str) -> usize {
    let listed = digests(server, repo);
    for ((name, version), digest) in &listed {
        let response = server.get(&format!("/{repo}/charts/{name}-{version}.tgz"));
        assert_eq!(response.status(), StatusCode::OK, "{name} {version} on port {}", server.port);
        let bytes = response.bytes().unwrap();
        assert_eq!(&sha256_hex(&bytes), digest, "{name} {version} on port {}: digest and bytes differ", server.port);
    }
    listed.len()
}

#[test]
fn changes_through_any_replica_reach_every_replica_within_a_second() {
    let _turn = take_turn();
    let garage = Garage::start(3);
    let replicas: Vec<Server> = (0..3).map(|i| replica(&garage, i, "fresh")).collect();
    let mut worst = Duration::ZERO;
    let mut uploaded = Vec::new();
    for i in 0..30 {
        let (name, version) = (format!("app{}", i % 7), format!("1.0.{i}"));
        let package = ChartBuilder::new(&name, &version).build();
        let digest = sha256_hex(&package);
        // Uploads spread over the replicas, and so are the index GETs that look for them.
        put(&replicas[i % 3], "team", &package);
        for (j, other) in replicas.iter().enumerate() {
            let took = wait_for(other, "team", &name, &version, Some(&digest));
            if j != i % 3 {
                worst = worst.max(took);
            }
        }
        uploaded.push((name, version));
    }
    // Deletes travel the same way.
    for (i, (name, version)) in uploaded.iter().enumerate().take(6) {
        let response =
            client().delete(replicas[i % 3].url(&format!("/api/team/charts/{name}/{version}"))).send().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        for other in &replicas {
            worst = worst.max(wait_for(other, "team", name, version, None));
        }
    }
    println!("worst time for a change to reach another replica: {} ms", worst.as_millis());
    assert!(worst <= FRESH, "a change took {worst:?} to reach another replica");
    let first = digests(&replicas[0], "team");
    assert_eq!(first.len(), 24);
    for replica in &replicas {
        assert_eq!(digests(replica, "team"), first, "replicas disagree");
        assert_eq!(assert_digests_match_bytes(replica, "team"), 24);
    }
}

#[test]
fn racing_creates_of_one_version_end_with_one_package_everywhere() {
    let _turn = take_turn();
    let garage = Garage::start(3);
    let replicas: Vec<Server> = (0..3).map(|i| replica(&garage, i, "race")).collect();
    for round in 0..6 {
        let version = format!("2.0.{round}");
        let bodies: Vec<Vec<u8>> = ["a", "b"]
            .iter()
            .map(|from| ChartBuilder::new("race", &version).file("values.yaml", format!("from: {from}\n")).build())
            .collect();
        let barrier = Arc::new(Barrier::new(2));
        let statuses: Vec<StatusCode> = std::thread::scope(|scope| {
            let racers: Vec<_> = bodies
                .iter()
                .zip(&replicas)
                .map(|(body, replica)| {
                    let barrier = barrier.clone();
                    scope.spawn(move || {
                        barrier.wait();
                        replica.upload("team", body).status()
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for status in &statuses {
            assert!([StatusCode::CREATED, StatusCode::CONFLICT].contains(status), "round {round}: {statuses:?}");
        }
        assert!(statuses.contains(&StatusCode::CREATED), "round {round}: nobody won: {statuses:?}");
        // Within the freshness bar every replica serves one and the same package …
        std::thread::sleep(FRESH);
        let agreed = digests(&replicas[0], "team").remove(&("race".to_string(), version.clone())).expect("listed");
        for replica in &replicas {
            assert_eq!(digests(replica, "team").get(&("race".to_string(), version.clone())), Some(&agreed));
        }
        // … one that a client sent and was told was saved (an answer of 409 saved nothing) …
        let acknowledged: Vec<String> = bodies
            .iter()
            .zip(&statuses)
            .filter(|(_, status)| **status == StatusCode::CREATED)
            .map(|(body, _)| sha256_hex(body))
            .collect();
        assert!(acknowledged.contains(&agreed), "round {round}: serves {agreed}, acknowledged {acknowledged:?}");
        println!("round {round}: answers {statuses:?}; every replica serves {}", &agreed[..12]);
    }
    // … and the bytes every replica serves are the bytes its index describes.
    for replica in &replicas {
        assert_eq!(assert_digests_match_bytes(replica, "team"), 6);
    }
}

#[test]
fn a_replica_restarted_or_new_catches_up_from_the_bucket() {
    let _turn = take_turn();
    let garage = Garage::start(1);
    let mut a = replica(&garage, 0, "restart");
    let mut b = replica(&garage, 0, "restart");
    for i in 0..10 {
        put(&a, "team", &ChartBuilder::new("web", &format!("1.{i}.0")).build());
    }
    wait_for(&b, "team", "web", "1.9.0", Some(&digests(&a, "team")[&("web".into(), "1.9.0".into())]));
    // Killed, it misses changes; started again, it has them before it serves.
    b.kill9();
    for i in 10..15 {
        put(&a, "team", &ChartBuilder::new("web", &format!("1.{i}.0")).build());
    }
    for version in ["1.0.0", "1.1.0"] {
        let response = client().delete(a.url(&format!("/api/team/charts/web/{version}"))).send().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    b.start_again();
    assert_eq!(digests(&b, "team"), digests(&a, "team"));
    assert_eq!(digests(&b, "team").len(), 13);

    // A replica started from nothing reads the index metadata the others keep in the
    // bucket, not every package.
    a.stop();
    b.stop();
    let fresh = replica(&garage, 0, "restart");
    let metrics = fresh.get("/metrics").text().unwrap();
    let value = |name: &str| {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name).map(|v| v.trim().parse::<f64>().unwrap()))
            .unwrap_or_else(|| panic!("no {name} in:\n{metrics}"))
    };
    assert_eq!(value("charthall_scan_packages_cached"), 13.0, "{metrics}");
    assert_eq!(value("charthall_scan_packages_read"), 0.0, "{metrics}");
    assert_eq!(assert_digests_match_bytes(&fresh, "team"), 13);
}

#[test]
fn a_store_node_lost_mid_test_loses_no_acknowledged_upload() {
    let _turn = take_turn();
    let mut garage = Garage::start(3);
    // The replicas talk to nodes 0 and 1; node 2 is the one lost.
    let replicas: Vec<Server> = [0, 1, 0].iter().map(|&node| replica(&garage, node, "lost")).collect();
    let mut acknowledged = BTreeMap::new();
    for i in 0..24 {
        if i == 8 {
            garage.stop_node(2);
        }
        let (name, version) = (format!("db{}", i % 4), format!("0.{i}.0"));
        let package = ChartBuilder::new(&name, &version).build();
        let response = replicas[i % 3].upload("team", &package);
        if response.status() == StatusCode::CREATED {
            acknowledged.insert((name, version), sha256_hex(&package));
        } else {
            println!("upload {i} refused while the node was lost: {}", response.status());
        }
    }
    assert!(
        acknowledged.len() >= 20,
        "only {} of 24 uploads were taken with one node of three lost",
        acknowledged.len()
    );
    std::thread::sleep(FRESH);
    for replica in &replicas {
        assert_eq!(digests(replica, "team"), acknowledged, "replica on port {}", replica.port);
        assert_digests_match_bytes(replica, "team");
    }
    // And after the node is back, nothing acknowledged went missing.
    garage.start_node(2);
    let late = replica(&garage, 2, "lost");
    assert_eq!(digests(&late, "team"), acknowledged);
}

#[test]
fn a_chart_pushed_over_oci_through_one_replica_is_pulled_through_another() {
    let _turn = take_turn();
    let garage = Garage::start(1);
    let a = replica(&garage, 0, "oci");
    let b = replica(&garage, 0, "oci");
    let dir = tempfile::tempdir().unwrap();
    let package = ChartBuilder::new("web", "4.0.0").build();
    let file = dir.path().join("web-4.0.0.tgz");
    std::fs::write(&file, &package).unwrap();
    let pushed =
        common::helm::helm(None, &["oci-push", &file.to_string_lossy(), &format!("oci://127.0.0.1:{}/team", a.port)]);
    pushed.ok();
    let digest = pushed.stdout.lines().find_map(|l| l.strip_prefix("Digest: ")).expect("helm prints the digest");
    // The other replica lists it within the freshness bar, and serves Helm's very manifest.
    wait_for(&b, "team", "web", "4.0.0", Some(&sha256_hex(&package)));
    let manifest = b.get("/v2/team/web/manifests/4.0.0");
    assert_eq!(header(&manifest, "docker-content-digest"), digest);
    let shown = common::helm::helm(None, &["oci-show", &format!("oci://127.0.0.1:{}/team/web:4.0.0", b.port)]).ok();
    assert_eq!(shown["chart"]["version"], "4.0.0");
    assert_eq!(b.get("/team/charts/web-4.0.0.tgz").bytes().unwrap().as_ref(), package.as_slice());
}

/// Helm pushes a blob in two requests (`POST`, then `PUT` with the whole blob); behind a
/// load balancer without sticky sessions they reach two replicas. The push still lands:
/// each `PUT` goes to the replica that did not take its `POST`, and so do the manifest's
/// two `PUT`s. A chunked upload does need its replica: its last `PUT` elsewhere carries
/// only the last chunk, and the digest check refuses it.
#[test]
fn an_oci_push_whose_requests_alternate_between_replicas_lands() {
    use common::oci::{digest, helm_manifest};
    let _turn = take_turn();
    let garage = Garage::start(1);
    let a = replica(&garage, 0, "lb");
    let b = replica(&garage, 0, "lb");
    let config = br#"{"name":"web","version":"5.0.0","apiVersion":"v2"}"#.to_vec();
    let layer = ChartBuilder::new("web", "5.0.0").build();
    for (blob, post_to, put_to) in [(&config, &a, &b), (&layer, &b, &a)] {
        let started = client().post(post_to.url("/v2/team/web/blobs/uploads/")).send().unwrap();
        assert_eq!(started.status(), StatusCode::ACCEPTED);
        let location = format!("{}?digest={}", header(&started, "location"), digest(blob));
        let put = client().put(put_to.url(&location)).body(blob.to_vec()).send().unwrap();
        assert_eq!(put.status(), StatusCode::CREATED, "{}", put.text().unwrap());
    }
    let manifest = helm_manifest(&config, &layer);
    for (server, reference) in [(&a, digest(&manifest)), (&b, "5.0.0".to_string())] {
        let url = server.url(&format!("/v2/team/web/manifests/{reference}"));
        let put = client().put(url).body(manifest.clone()).send().unwrap();
        assert_eq!(put.status(), StatusCode::CREATED, "{}", put.text().unwrap());
    }
    for server in [&a, &b] {
        wait_for(server, "team", "web", "5.0.0", Some(&sha256_hex(&layer)));
        assert_eq!(server.get("/v2/team/web/manifests/5.0.0").bytes().unwrap().as_ref(), manifest.as_slice());
        assert_eq!(server.get(&format!("/v2/team/web/blobs/{}", digest(&config))).bytes().unwrap().as_ref(), config);
    }
    // Chunked: two PATCHes on A, the closing PUT on B.
    let data = noise(3000);
    let started = client().post(a.url("/v2/team/web/blobs/uploads/")).send().unwrap();
    let location = header(&started, "location");
    for chunk in data.chunks(1500) {
        assert_eq!(
            client().patch(a.url(&location)).body(chunk.to_vec()).send().unwrap().status(),
            StatusCode::ACCEPTED
        );
    }
    let put = client().put(b.url(&format!("{location}?digest={}", digest(&data)))).send().unwrap();
    assert_eq!(put.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(put)["errors"][0]["code"], "DIGEST_INVALID");
    assert_eq!(b.get(&format!("/v2/team/web/blobs/{}", digest(&data))).status(), StatusCode::NOT_FOUND);
}
