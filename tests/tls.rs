//! HTTPS with `TLS_CERT` and `TLS_KEY`: real curl uploads and reads the index over TLS,
//! and `READ_TIMEOUT` also closes a connection that never starts its handshake.
mod common;
use common::*;

use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A server with a fresh self-signed certificate for 127.0.0.1; the certificate's path
/// is returned for curl to trust.
fn tls_server(dir: &Path, extra: &[(&str, &str)]) -> (Server, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.to_string_lossy().into_owned(), key.to_string_lossy().into_owned());
    let mut env = vec![("TLS_CERT", cert.as_str()), ("TLS_KEY", key.as_str())];
    env.extend_from_slice(extra);
    (Server::start(&env), cert)
}

/// curl over HTTPS, trusting only `cert`; returns the body.
fn curl(server: &Server, cert: &str, args: &[&str], path: &str) -> Vec<u8> {
    let url = server.url(path).replacen("http://", "https://", 1);
    let output = Command::new("curl")
        .args(["-sS", "--fail", "--cacert", cert])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is installed");
    assert!(output.status.success(), "curl {args:?} {path}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

#[test]
fn curl_uploads_and_reads_the_index_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let (server, cert) = tls_server(dir.path(), &[]);
    let package = dir.path().join("app-1.2.3.tgz");
    std::fs::write(&package, ChartBuilder::new("app", "1.2.3").build()).unwrap();
    let upload = format!("@{}", package.display());
    let answer = curl(&server, &cert, &["--data-binary", &upload], "/api/team/charts");
    assert_eq!(answer, b"{\"saved\":true}");

    let identity = curl(&server, &cert, &[], "/team/index.yaml");
    let gzip = curl(&server, &cert, &["-H", "Accept-Encoding: gzip"], "/team/index.yaml");
    let text = String::from_utf8(identity.clone()).unwrap();
    assert!(text.contains("app:") && text.contains("1.2.3"), "{text}");
    assert_eq!(gunzip(&gzip), identity, "the gzip body over TLS is the identity body");
    let over_http2 = curl(&server, &cert, &["--http2"], "/team/index.yaml");
    assert_eq!(over_http2, identity);
}

#[test]
fn a_connection_that_never_starts_its_handshake_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _cert) = tls_server(dir.path(), &[("READ_TIMEOUT", "1")]);
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = [0; 64];
    let read = stream.read(&mut buf);
    let waited = started.elapsed();
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The handshake itself may take 30 s; READ_TIMEOUT ends the silent connection first.
    assert!((Duration::from_millis(900)..Duration::from_millis(2500)).contains(&waited), "closed after {waited:?}");
}
