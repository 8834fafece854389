//! Thousands of idle connections: the server raises its open-files limit at start (as Go
//! programs do) and keeps answering while they sit open. Its own file, because it raises
//! this test process's limit too, for its clients.
mod common;
use common::*;

use std::net::TcpStream;
use std::time::{Duration, Instant};

fn open_files_limit() -> libc::rlimit {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes only the struct given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
    limit
}

#[test]
fn five_thousand_idle_connections_and_the_server_still_answers() {
    const IDLE: usize = 5000;
    let mut limit = open_files_limit();
    assert!(limit.rlim_max as usize > IDLE + 500, "this machine's hard limit on open files is {}", limit.rlim_max);
    // The server starts with the usual soft limit of 1,024 and must raise it itself.
    let wrapper = ["prlimit".to_string(), format!("--nofile=1024:{}", limit.rlim_max), "--".to_string()];
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let server = Server::start_under(&[], &wrapper);
    put(&server, "team", &ChartBuilder::new("web", "1.0.0").build());
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap().to_string();
    let numbers: Vec<&str> = line.split_whitespace().filter(|w| w.chars().all(|c| c.is_ascii_digit())).collect();
    assert_eq!(numbers[0], numbers[1], "soft limit not raised to the hard one: {line}");
    assert!(server.log().contains("raised the open files limit"), "{}", server.log());

    // This process needs the descriptors for its clients.
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: setrlimit reads only the struct given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let idle: Vec<TcpStream> = (0..IDLE).map(|_| TcpStream::connect(server.address()).expect("connect")).collect();
    std::thread::sleep(Duration::from_millis(500)); // let the server accept them all
    for path in ["/health", "/team/index.yaml"] {
        let asked = Instant::now();
        assert_eq!(server.get(path).status(), StatusCode::OK, "{path}");
        assert!(
            asked.elapsed() < Duration::from_secs(1),
            "{path} took {:?} beside {IDLE} idle connections",
            asked.elapsed()
        );
    }
    assert_eq!(index_versions(&index_of(&server, "/team/index.yaml"), "web"), ["1.0.0"]);
    assert!(!server.log().contains("accept failed"), "{}", server.log());
    drop(idle);
}
