//! Uploads are streamed to disk, not held in memory: 300 concurrent uploads of ~19.6 MB
//! (5.9 GB in all, under the default `MAX_UPLOAD_SIZE`) keep the server's peak resident
//! memory under 512 MB, every well-formed one is stored, and broken ones get a clear error.
mod common;
use common::*;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A chart package built from parts, so that 300 of them cost one big buffer: the gzip
/// member holds stored (uncompressed) deflate blocks, which can be laid end to end, and
/// its CRC-32 is joined from the parts'. Only `Chart.yaml` (the head) differs per version.
struct BigPackages {
    /// Stored blocks of four 4.9 MB files of noise and the tar's end.
    body: Arc<Vec<u8>>,
    body_crc: crc32fast::Hasher,
    body_len: u64,
}

const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

fn stored_blocks(data: &[u8], out: &mut Vec<u8>) {
    for chunk in data.chunks(65535) {
        let len = chunk.len() as u16;
        out.push(0); // not final, stored; the rest of the byte is padding
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
}

fn tar_entry(path: &str, data: &[u8], out: &mut Vec<u8>) {
    let mut header = tar::Header::new_gnu();
    header.set_path(path).unwrap();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
}

impl BigPackages {
    fn new() -> BigPackages {
        let mut tar = Vec::with_capacity(20_000_000);
        for k in 0..4 {
            tar_entry(&format!("big/files/blob{k}.bin"), &noise_from(k, 4_900_000), &mut tar);
        }
        tar.extend_from_slice(&[0; 1024]);
        let mut body_crc = crc32fast::Hasher::new();
        body_crc.update(&tar);
        let mut body = Vec::with_capacity(tar.len() + tar.len() / 60_000 * 5 + 5);
        stored_blocks(&tar, &mut body);
        BigPackages { body: Arc::new(body), body_crc, body_len: tar.len() as u64 }
    }

    /// Version `version`'s package, as a reader and its length. `cut` stops the body
    /// that many bytes short of its end: a truncated upload.
    fn package(&self, version: &str, cut: usize) -> (impl Read + Send + 'static, u64) {
        let mut head_tar = Vec::new();
        tar_entry(
            "big/Chart.yaml",
            format!("apiVersion: v2\nname: big\nversion: {version}\n").as_bytes(),
            &mut head_tar,
        );
        let mut head = GZIP_HEADER.to_vec();
        stored_blocks(&head_tar, &mut head);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head_tar);
        crc.combine(&self.body_crc);
        let mut tail = vec![1, 0, 0, 0xff, 0xff]; // the final, empty stored block
        tail.extend_from_slice(&crc.finalize().to_le_bytes());
        tail.extend_from_slice(&((head_tar.len() as u64 + self.body_len) as u32).to_le_bytes());
        let body = SharedSlice { bytes: self.body.clone(), at: 0, end: self.body.len() - cut };
        let len = (head.len() + body.end + tail.len()) as u64;
        (std::io::Cursor::new(head).chain(body).chain(std::io::Cursor::new(tail)), len)
    }
}

/// Reads a shared buffer without copying it per reader.
struct SharedSlice {
    bytes: Arc<Vec<u8>>,
    at: usize,
    end: usize,
}

impl Read for SharedSlice {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.end - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn peak_resident_mb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

#[test]
fn three_hundred_concurrent_19_mb_uploads_stay_under_512_mb() {
    const GOOD: usize = 300;
    const TRUNCATED: usize = 10;
    let packages = Arc::new(BigPackages::new());
    // The harness's check that it builds what the server accepts.
    let (mut one, len) = packages.package("0.0.1", 0);
    let mut bytes = Vec::new();
    one.read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes.len() as u64, len);
    assert!(len > 19_000_000 && len < 20_971_520, "{len} bytes");

    let server = Server::start(&[]);
    let url = server.url("/api/team/charts");
    let started = Instant::now();
    let uploads: Vec<_> = (0..GOOD + TRUNCATED)
        .map(|i| {
            let (packages, url) = (packages.clone(), url.clone());
            std::thread::spawn(move || {
                let cut = if i < GOOD { 0 } else { 1_000_000 };
                let (reader, len) = packages.package(&format!("1.0.{i}"), cut);
                let client = Client::builder().timeout(Duration::from_secs(600)).build().unwrap();
                let response =
                    client.post(&url).body(reqwest::blocking::Body::sized(reader, len)).send().expect("POST");
                (response.status(), response.text().unwrap())
            })
        })
        .collect();
    let answers: Vec<(StatusCode, String)> = uploads.into_iter().map(|t| t.join().unwrap()).collect();
    let took = started.elapsed();
    let peak = peak_resident_mb(server.pid());
    for (i, (status, body)) in answers.iter().enumerate() {
        if i < GOOD {
            assert_eq!(*status, StatusCode::CREATED, "upload {i}: {body}");
        } else {
            assert_eq!(*status, StatusCode::BAD_REQUEST, "truncated upload {i}: {body}");
            assert!(body.contains("truncated") || body.contains("EOF"), "truncated upload {i}: {body}");
        }
    }
    assert_eq!(index_versions(&index_of(&server, "/team/index.yaml"), "big").len(), GOOD);
    assert_eq!(files_under(&server.root).len(), GOOD, "the stored packages, and no leftover spool file");
    eprintln!("{} uploads of {len} bytes in {took:?}; server peak RSS {peak} MB", GOOD + TRUNCATED);
    assert!(peak < 512, "the server's peak resident memory was {peak} MB");
}
