//! Rollouts that drop nothing: on SIGTERM the server stops accepting, lets the requests in
//! flight finish (for `SHUTDOWN_TIMEOUT` at most), writes its start-up cache and exits 0.
mod common;
use common::*;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// Sends `GET path` on a slow reader and reads its first chunk: the answer is under way.
fn start_slow_download(server: &Server, path: &str) -> std::net::TcpStream {
    let mut stream = slow_reader(server);
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).unwrap();
    stream
}

/// The head and body of one HTTP/1.1 answer read from `stream` to its end (the server
/// closes a connection after answering during a shutdown), reading at ~1.3 MB/s.
fn read_slowly_to_end(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the download broke after {} bytes: {e}", received.len()),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_download_under_way_at_sigterm_completes_byte_for_byte_and_the_server_exits_0() {
    let mut server = Server::start(&[]);
    let package = big_chart("app", "1.0.0");
    put(&server, "team", &package);
    let mut download = start_slow_download(&server, "/team/charts/app-1.0.0.tgz");
    let mut first = vec![0; 16 * 1024];
    let n = download.read(&mut first).unwrap();
    assert!(n > 0);
    let started = Instant::now();
    server.terminate();
    // No new connections once the server is stopping.
    std::thread::sleep(Duration::from_millis(300));
    assert!(std::net::TcpStream::connect(server.address()).is_err(), "still accepting after SIGTERM");
    let mut received = first[..n].to_vec();
    received.extend(read_slowly_to_end(&mut download));
    let body_at = received.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
    assert!(received.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&received[..body_at]));
    assert_eq!(received.len() - body_at, package.len(), "the whole package");
    assert_eq!(sha256_hex(&received[body_at..]), sha256_hex(&package), "byte for byte");
    assert!(started.elapsed() > Duration::from_secs(2), "the download outlasted the signal");
    let exit = server.wait_exit();
    assert!(exit.success(), "exited with {exit}; log:\n{}", server.log());
    let log = server.log();
    assert!(log.contains("finishing the requests in flight") && !log.contains("cutting"), "{log}");
    assert!(server.root.join("team/.charthall-index.cache").exists(), "the start-up cache is written on the way out");
}

#[test]
fn past_shutdown_timeout_what_is_still_open_is_cut_and_said() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT", "1")]);
    put(&server, "team", &big_chart("app", "1.0.0"));
    // A client that never reads: its answer cannot finish.
    let _stuck = start_slow_download(&server, "/team/charts/app-1.0.0.tgz");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    server.terminate();
    let exit = server.wait_exit();
    let took = started.elapsed();
    assert!(exit.success(), "exited with {exit}");
    assert!((Duration::from_millis(900)..Duration::from_secs(5)).contains(&took), "exited after {took:?}");
    let log = server.log();
    assert!(log.contains("SHUTDOWN_TIMEOUT passed: cutting the connections still open"), "{log}");
    assert!(log.contains("connections=1"), "the count of what is cut: {log}");
}
