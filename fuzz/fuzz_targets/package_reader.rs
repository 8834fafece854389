//! The package reader (gzip → tar → `Chart.yaml` → metadata) with `Keep::Validate` and
//! `Keep::Contents`: never panics, both modes agree, and an accepted package renders to an
//! index entry that parses back with the same name, version and description.
//! First input byte: odd = the rest is a raw tar, gzipped before reading; 2 = strict SemVer.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| charthall::fuzzing::package_reader(data));
