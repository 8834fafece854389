//! What one package costs a first scan, stage by stage, on one core: the floor under a
//! cold start (issue 19). Reads `N` packages of a folder into memory, then times each
//! stage over all of them, several rounds, and prints the fastest round per package.
//!
//! `cargo bench --bench stages -- <folder of .tgz> [N=20000] [rounds=5]`
//!
//! The stages are the library's own (`package::read_with_digest`, `from_chart_yaml`), so
//! the figures move with the code. Rendering the entry and compressing the index are not
//! here: the server's log times them (`read packages`, `index updated from storage`).

use std::io::Read;
use std::time::Instant;

use charthall::chart::metadata::ChartVersionEntry;
use charthall::chart::package::{self, Keep};
use sha2::{Digest, Sha256};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(folder) = args.first() else {
        eprintln!("usage: cargo bench --bench stages -- <folder of .tgz> [N=20000] [rounds=5]");
        std::process::exit(2);
    };
    let count: usize = args.get(1).map_or(20_000, |n| n.parse().expect("N is a number"));
    let rounds: usize = args.get(2).map_or(5, |n| n.parse().expect("rounds is a number"));
    let mut paths: Vec<_> = std::fs::read_dir(folder)
        .expect("a readable folder")
        .map(|entry| entry.expect("a folder entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "tgz"))
        .collect();
    paths.sort();
    paths.truncate(count);
    let packages: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).expect("a readable package")).collect();
    let chart_yamls: Vec<Vec<u8>> = packages.iter().map(|p| chart_yaml(p)).collect();
    let n = packages.len();
    let bytes: usize = packages.iter().map(Vec::len).sum();
    println!("{n} packages from {folder}, {} bytes each on average; fastest of {rounds} rounds, one core\n", bytes / n);

    let mut sink = 0usize;
    let mut stage = |name: &str, run: &mut dyn FnMut() -> usize| -> f64 {
        let best = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                sink = sink.wrapping_add(run());
                started.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        let micros = best * 1e6 / n as f64;
        println!("| {name:<52} | {micros:>7.2} |");
        micros
    };
    println!("| stage | µs per package |\n|---|---|");
    let read = stage("open, stat, read, close (page cache warm)", &mut || {
        paths.iter().map(|p| std::fs::read(p).map_or(0, |b| b.len())).sum()
    });
    let hash = stage("SHA-256 of the package", &mut || packages.iter().map(|p| Sha256::digest(p)[0] as usize).sum());
    let yaml = stage("parse Chart.yaml (serde_yaml)", &mut || {
        chart_yamls.iter().map(|y| ChartVersionEntry::from_chart_yaml(y).map_or(0, |e| e.name.len())).sum()
    });
    let whole = stage("package read: gunzip to Chart.yaml, tar, parse, check", &mut || {
        packages.iter().map(|p| package::read(p, Keep::ChartYaml, false).map_or(0, |r| r.metadata.name.len())).sum()
    });
    let total = read + hash + whole;
    println!("| {:<52} | {:>7.2} |", "of which gunzip and tar (read − parse)", whole - yaml);
    println!("| {:<52} | {:>7.2} |", "sum: read + SHA-256 + package read", total);
    println!(
        "\nAt 1,000,000 packages: {:.1} CPU-seconds, {:.1} s on 2 cores, before rendering, \
compressing the index and the kernel's page faults. (checksum {sink})",
        total,
        total / 2.0
    );
}

/// The package's `Chart.yaml`, as the scan parses it.
fn chart_yaml(package: &[u8]) -> Vec<u8> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(package));
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("a tar entry");
        if entry.path().expect("a path").ends_with("Chart.yaml") {
            let mut text = Vec::new();
            entry.read_to_end(&mut text).expect("Chart.yaml");
            return text;
        }
    }
    panic!("a package without Chart.yaml");
}
