//! Arbitrary bytes as a sheet: the reader and validator must never panic, and a second pass
//! must see the same rows as the pre-pass.
#![no_main]

use cake_recon::internals::{Sheet, SheetOptions, prepass};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("cake-recon-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("sheet.csv");
    let Ok(mut f) = std::fs::File::create(&path) else { return };
    if f.write_all(data).is_err() {
        return;
    }
    drop(f);
    let opts = SheetOptions { api_version: 4, ..SheetOptions::default() };
    if let Ok(pre) = prepass(&path, &opts) {
        let mut sheet = Sheet::open(&path, &opts).expect("opened once, opens again");
        let mut n = 0;
        while let Ok(Some(_)) = sheet.next_row(&pre.duplicates) {
            n += 1;
        }
        assert_eq!(n, pre.rows);
    }
});
