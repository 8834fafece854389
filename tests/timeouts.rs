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
    // Hex of a pseudo-random sequence: it does not compress away, so the package is big.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = || -> String {
        (0..4_000_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from_digit((state % 16) as u32, 16).unwrap()
            })
            .collect()
    };
    // Three files: Helm's limit is 5 MiB per file.
    let chart = ChartBuilder::new("app", "1.0.0").file("a.txt", noise()).file("b.txt", noise()).file("c.txt", noise());
    assert_eq!(server.upload("team", &chart.build()).status(), StatusCode::CREATED);
    let package_len = server.get("/team/charts/app-1.0.0.tgz").bytes().unwrap().len();
    assert!(package_len > 5_000_000, "package of {package_len} bytes");
    // A small receive buffer, so that most of the package waits in the server's.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    socket.connect(&server.address().into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
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
