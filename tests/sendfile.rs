//! Small index bodies leave through `sendfile(2)` from unnamed files: they must arrive
//! whole and exact however the client reads them — slowly, pipelined, over HTTP/2.
mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// A repository whose index is ~90 KB: big enough to fill socket buffers when many are
/// asked for at once, small enough to be kept in one file-backed buffer.
fn server_with_a_mid_sized_index() -> Server {
    let server = Server::start(&[]);
    let description = "a description long enough to make the index weigh something ".repeat(6);
    for i in 0..120 {
        let chart = ChartBuilder::new(&format!("app-{:03}", i / 4), &format!("1.{}.0", i % 4)).file(
            "Chart.yaml",
            format!("apiVersion: v2\nname: app-{:03}\nversion: 1.{}.0\ndescription: {description}\n", i / 4, i % 4),
        );
        assert_eq!(server.upload("team", &chart.build()).status(), StatusCode::CREATED);
    }
    server
}

/// Reads one HTTP/1.1 response: its head (lower-cased) and its body.
fn read_response(reader: &mut impl BufRead) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "connection closed mid-response");
        if line == "\r\n" {
            break;
        }
        head.push_str(&line.to_ascii_lowercase());
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("a content-length")
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (head, body)
}

#[test]
fn a_slow_pipelining_client_gets_every_body_whole() {
    let server = server_with_a_mid_sized_index();
    let identity = server.get("/team/index.yaml").bytes().unwrap().to_vec();
    let gzip = get_gzip(&server, "/team/index.yaml").bytes().unwrap().to_vec();
    assert!((64_000..128 * 1024).contains(&identity.len()), "index of {} bytes", identity.len());
    assert_eq!(gunzip(&gzip), identity);
    // Unnamed files in the storage folder show as `<root>/#<inode> (deleted)`.
    let root = server.root.canonicalize().unwrap().to_string_lossy().into_owned();
    let unnamed = std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| target.starts_with(&format!("{root}/#")) && target.ends_with(" (deleted)"))
        .count();
    assert!(unnamed >= 2, "both encodings are held in unnamed files in the storage folder ({unnamed})");
    assert!(files_under(&server.root).iter().all(|f| !f.contains('#')), "{:?}", files_under(&server.root));

    // 300 requests at once (~20 MB of answers, more than socket buffers hold), nothing
    // read for a while: the server's writes hit full buffers and must resume where they
    // stopped.
    let mut stream = TcpStream::connect(server.address()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut requests = String::new();
    for i in 0..300 {
        let encoding = if i % 3 == 0 { "Accept-Encoding: gzip\r\n" } else { "" };
        requests.push_str(&format!("GET /team/index.yaml HTTP/1.1\r\nHost: test\r\n{encoding}\r\n"));
    }
    stream.write_all(requests.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut reader = BufReader::with_capacity(1024, stream);
    for i in 0..300 {
        let (head, body) = read_response(&mut reader);
        assert!(head.starts_with("http/1.1 200"), "response {i}: {head}");
        let expected = if i % 3 == 0 { &gzip } else { &identity };
        assert_eq!(head.contains("content-encoding: gzip"), i % 3 == 0, "response {i}: {head}");
        assert!(body == *expected, "response {i}: body differs ({} bytes)", body.len());
    }
}

#[test]
fn http2_clients_get_the_same_bytes() {
    let server = server_with_a_mid_sized_index();
    for gzip in [false, true] {
        let over_http1 = if gzip { get_gzip(&server, "/team/index.yaml") } else { server.get("/team/index.yaml") };
        let over_http1 = over_http1.bytes().unwrap().to_vec();
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--fail", "--http2-prior-knowledge", "-o", "-", "-w", "\n%{http_version}"]);
        if gzip {
            curl.args(["-H", "Accept-Encoding: gzip"]);
        }
        let output = curl.arg(server.url("/team/index.yaml")).output().expect("curl is installed");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let (body, version) = output.stdout.split_at(output.stdout.len() - 2);
        assert_eq!(version, b"\n2", "spoke HTTP/2");
        assert!(body == over_http1, "gzip {gzip}: HTTP/2 body differs ({} bytes)", body.len());
    }
}
