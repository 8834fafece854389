//! Chart version parsing (strict and Helm's lenient form), `newest_first` ordering and
//! `select`, over up to 8 versions one a line: never panics, and agrees with the `semver`
//! crate wherever SemVer accepts the text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| charthall::fuzzing::version(data));
