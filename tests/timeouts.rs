//! `READ_TIMEOUT`: a connection on which no byte moves for that long is closed, however
//! it stalls (half a request head, an idle keep-alive), while a client that keeps bytes
//! moving, even slowly, is served.
mod common;
use common::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The server closes after 1 to 1.5 s of silence.
fn server() -> Server {
    Server::start(&[("READ_TIMEOUT", "1")])
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.address()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Waits for the server to close `stream` (end of stream or reset) and returns how long
/// that took; any bytes it sends first are returned too.
fn wait_for_close(stream: &mut TcpStream) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) if started.elapsed() < Duration::from_secs(9) => return (started.elapsed(), received),
            Ok(0) | Err(_) => panic!("the server never closed the connection"),
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn half_a_request_head_is_dropped_after_the_timeout() {
    let server = server();
    let mut stream = connect(&server);
    stream.write_all(b"GET /team/index.yaml HTTP/1.1\r\nHost: test\r\n").unwrap();
    let (waited, received) = wait_for_close(&mut stream);
    assert!(waited >= Duration::from_millis(900), "closed after {waited:?}, before the timeout");
    assert!(waited <= Duration::from_millis(2500), "closed only after {waited:?}");
    assert!(received.is_empty() || received.starts_with(b"HTTP/1.1 408"), "{}", String::from_utf8_lossy(&received));
    assert_eq!(server.get("/health").status(), StatusCode::OK, "the server itself is fine");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_timeout() {
    let server = server();
    let mut stream = connect(&server);
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let mut rest = Vec::new();
    let started = Instant::now();
    // The rest of the response, then the end of the stream once the server gives up.
    let _ = reader.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(String::from_utf8_lossy(&rest).contains("{\"healthy\":true}"));
    assert!((Duration::from_millis(900)..Duration::from_millis(2500)).contains(&waited), "closed after {waited:?}");
}

#[test]
fn a_client_that_trickles_bytes_is_not_cut_off() {
    let server = server();
    let mut stream = connect(&server);
    let request = b"GET /health HTTP/1.1\r\nHost: test\r\nX-Padding: slow\r\n\r\n";
    let started = Instant::now();
    // One byte every 100 ms: ~5 s for the whole head, far past the timeout in total,
    // but never a second without a byte.
    for byte in request {
        stream.write_all(&[*byte]).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() > Duration::from_secs(3));
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status:?}");
}

#[test]
fn a_slow_download_is_not_cut_off() {
    let server = server();
    assert_eq!(server.upload("team", &big_chart("app", "1.0.0")).status(), StatusCode::CREATED);
    let package_len = server.get("/team/charts/app-1.0.0.tgz").bytes().unwrap().len();
    assert!(package_len > 5_000_000, "package of {package_len} bytes");
    let mut stream = slow_reader(&server);
    stream.write_all(b"GET /team/charts/app-1.0.0.tgz HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    // Read at ~1.3 MB/s: the server cannot write for longer than the timeout again and
    // again, and sends nothing meanwhile, but the client is reading all along.
    let started = Instant::now();
    let mut total = 0;
    let mut buf = vec![0; 64 * 1024];
    while total < package_len {
        match stream.read(&mut buf) {
            Ok(0) => panic!("closed after {total} bytes and {:?}", started.elapsed()),
            Ok(n) => total += n,
            Err(e) => panic!("read failed after {total} bytes: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(started.elapsed() >= Duration::from_secs(2), "read in {:?}: too fast to test anything", started.elapsed());
}

/// Whether the server has closed `stream`, without waiting: a read that finds the end of
/// the stream or an error.
fn closed(stream: &mut TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0; 1024];
    let gone = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue, // a 408 or the like: read on to the end
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    stream.set_nonblocking(false).unwrap();
    gone
}

/// Slowloris: 50 clients each send their request head one byte a second. `READ_TIMEOUT`
/// never fires (a byte arrives every second); `READ_HEADER_TIMEOUT` closes every one, and
/// the server answers everyone else meanwhile.
#[test]
fn heads_dribbled_a_byte_a_second_are_closed_by_the_header_deadline() {
    let server = Server::start(&[("READ_HEADER_TIMEOUT", "2")]);
    let head: Vec<u8> = b"GET /team/index.yaml HTTP/1.1\r\nHost: test\r\nX-Slow: "
        .iter()
        .copied()
        .chain(std::iter::repeat(b'a'))
        .take(4096)
        .collect();
    let mut attackers: Vec<(TcpStream, Option<Duration>)> = (0..50).map(|_| (connect(&server), None)).collect();
    let started = Instant::now();
    let mut slowest_health = Duration::ZERO;
    for second in 0..8 {
        for (stream, closed_at) in attackers.iter_mut().filter(|(_, closed_at)| closed_at.is_none()) {
            if stream.write_all(&head[second..second + 1]).is_err() || closed(stream) {
                *closed_at = Some(started.elapsed());
            }
        }
        let asked = Instant::now();
        assert_eq!(server.get("/health").status(), StatusCode::OK);
        slowest_health = slowest_health.max(asked.elapsed());
        if attackers.iter().all(|(_, closed_at)| closed_at.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1).saturating_sub(asked.elapsed()));
    }
    let closed_after: Vec<Duration> =
        attackers.iter().map(|(_, at)| at.expect("a dribbling client was never closed")).collect();
    // The deadline is 2 s, checked every 0.5 s, and this loop looks once a second.
    for after in &closed_after {
        assert!((Duration::from_millis(1900)..Duration::from_millis(4500)).contains(after), "closed after {after:?}");
    }
    assert!(slowest_health < Duration::from_secs(1), "/health took {slowest_health:?} during the attack");
}

/// The head deadline is for heads: a body may trickle for longer, and the next head on the
/// same connection gets a deadline of its own.
#[test]
fn a_slow_body_is_not_cut_off_by_the_header_deadline_but_the_next_slow_head_is() {
    let server = Server::start(&[("READ_HEADER_TIMEOUT", "1"), ("READ_TIMEOUT", "30")]);
    let package = ChartBuilder::new("web", "1.0.0").build();
    let mut stream = connect(&server);
    let head = format!("POST /api/team/charts HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n", package.len());
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    // The body over ~3 s: three times the head deadline.
    for chunk in package.chunks(package.len().div_ceil(30)) {
        stream.write_all(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() > Duration::from_secs(2));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 201"), "{status:?}");
    assert_eq!(index_versions(&index_of(&server, "/team/index.yaml"), "web"), ["1.0.0"]);
    // Read the rest of the answer, then dribble the next head: it gets its own deadline.
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
        line.clear();
    }
    let mut body = [0; 64];
    let _ = reader.get_mut().read(&mut body);
    let started = Instant::now();
    let mut closed_after = None;
    for byte in b"GET /team/index.yaml HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if stream.write_all(&[*byte]).is_err() || closed(&mut stream) {
            closed_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let closed_after = closed_after.expect("the second slow head was never closed");
    assert!((Duration::from_millis(900)..Duration::from_millis(2500)).contains(&closed_after), "{closed_after:?}");
}
