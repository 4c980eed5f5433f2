//! File names that are not UTF-8 (or hold control characters): escaped losslessly, and a
//! drop-in so named is applied as Kata applies it. The oracle is in `fuzz/harness/os_names.rs`,
//! shared with the replay test.
#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../harness/os_names.rs");

fuzz_target!(|data: &[u8]| {
    check_os_name(data);
});
