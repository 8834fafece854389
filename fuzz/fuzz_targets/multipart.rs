//! The upload form parser: multer driven as `http::upload::form_files` drives it (fixed
//! boundary, `chart` and `prov` fields collected), on a current-thread tokio runtime.
//! Never panics, and a body fed in chunks (size from the first byte) reads as in one piece.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| charthall::fuzzing::multipart(data));
