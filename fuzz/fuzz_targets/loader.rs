//! Fuzz target `loader`: arbitrary bytes through what the daemon does to a manifest file
//! (`berth_core::fuzzing::load_fuzz_input`, which the corpus test replays on stable).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    berth_core::fuzzing::load_fuzz_input(data);
});
