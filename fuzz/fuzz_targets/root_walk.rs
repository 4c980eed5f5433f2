//! Random trees of directories, files and escaping symlinks inside a scratch root: nothing
//! resolves outside it, and the kernel's `openat2` and hvguard's own walk agree. The oracle
//! is in `fuzz/harness/root_walk.rs`, shared with the replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../harness/root_walk.rs");

fuzz_target!(|data: &[u8]| {
    check_root_walk(data);
});
