//! Route resolution (`http::route::resolve`) of any path (bytes read as lossy UTF-8), at
//! depths 0..=3 under context paths "" and "/helm": never panics, and a resolved repository
//! is `depth` segments, none empty, `..` or starting with '.', with no '\' or NUL.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| charthall::fuzzing::route(data));
