//! Feeds arbitrary text to every parser of `hvguard update`: `apt-cache policy`, `madison`
//! and `show`, `apt-get install -s`, `/proc/locks`, `/proc/PID/maps` and the sandbox name
//! from a command line and a cgroup file. They may reject, never panic.
#![no_main]

use hvguard_update::{apt, locks, processes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = apt::parse::parse_policy(text);
    let _ = apt::parse::parse_madison(text);
    let _ = apt::parse::parse_first_stanza(text);
    let _ = apt::parse_simulation(text);
    let _ = locks::holders_in(text, 0xfe00, 1234);
    let _ = processes::stale_libraries(text, |_| Some(1));
    let args: Vec<String> = text.split('\0').map(str::to_owned).collect();
    let _ = processes::sandbox_of(&args, text);
});
