//! Workbooks built to exhaust the reader (issue 21): a stray cell at the sheet's far corner, a
//! zip-bombed part, an `.ods` row repeated a million times. Each is refused before any reader
//! holds it — run under a 300 MB address-space limit, so a reader that tried would abort instead
//! of passing — and the screen that previews such an upload keeps serving.

use crate::emu::{Emu, KEY};
use crate::util::{Output, TestDir};
use cake_recon::mock::{Faults, Ledger};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::Command;

/// `cake-recon ARGS` in `t` with at most 300 MB of address space (so its resident memory stays
/// below that too: a reader that tried to hold a bomb aborts instead of passing).
fn run_capped(t: &TestDir, args: &[&str]) -> Output {
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 300000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_cake-recon"))
        .args(args)
        .current_dir(t.dir.path())
        .env("XDG_DATA_HOME", t.data_home())
        .env_remove("CAKE_API_KEY")
        .output()
        .unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A real one-row workbook with one more part: `mb` MB of zeros, a few KB packed.
fn zip_bomb(t: &TestDir, name: &str, mb: usize) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.write_string(0, 0, "conversion_id").unwrap();
    ws.write_number(1, 0, 7.0).unwrap();
    let plain = book.save_to_buffer().unwrap();
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(plain)).unwrap();
    let mut zout = zip::ZipWriter::new(std::fs::File::create(t.path(name)).unwrap());
    for i in 0..zin.len() {
        zout.raw_copy_file(zin.by_index(i).unwrap()).unwrap();
    }
    zout.start_file(
        "xl/media/zeros.bin",
        zip::write::SimpleFileOptions::default().compression_level(Some(9)),
    )
    .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mb {
        zout.write_all(&zeros).unwrap();
    }
    zout.finish().unwrap();
}

/// A one-row approval sheet with a stray cell at `XFD1048576`, as a person makes one by
/// typing in the wrong place (2 KB; its used range is 17 billion cells).
pub(crate) fn far_corner(t: &TestDir, name: &str) {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.write_string(0, 0, "conversion_id").unwrap();
    ws.write_string(0, 1, "payout").unwrap();
    ws.write_number(1, 0, 7.0).unwrap();
    ws.write_number(1, 1, 12.5).unwrap();
    ws.write_string(1_048_575, 16_383, "x").unwrap();
    book.save(t.path(name)).unwrap();
}

#[test]
fn a_stray_cell_at_the_far_corner_is_refused_before_the_sheet_is_read() {
    let t = TestDir::new();
    far_corner(&t, "far.xlsx");
    let out = run_capped(&t, &["run", "far.xlsx", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("spans rows 1 to 1048576 and columns A to XFD")
            && out.stderr.contains("--max-cells"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_part_that_unpacks_beyond_the_limit_is_refused_unread() {
    let t = TestDir::new();
    zip_bomb(&t, "bomb.xlsx", 48);
    assert!(std::fs::metadata(t.path("bomb.xlsx")).unwrap().len() < 200_000);
    let out = run_capped(
        &t,
        &["run", "bomb.xlsx", "--dry-run", "--max-unpacked-mb", "32"],
    );
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("xl/media/zeros.bin unpacks to more than 32 MB")
            && out.stderr.contains("--max-unpacked-mb"),
        "{}",
        out.stderr
    );
    // Under the default limit the same workbook is read.
    let fine = run_capped(&t, &["run", "bomb.xlsx", "--dry-run", "--set", "payout=1"]);
    assert!(!fine.stderr.contains("unpacks"), "{fine:?}");
}

#[test]
fn an_ods_row_repeated_a_million_times_is_refused_by_what_it_would_expand_to() {
    let t = TestDir::new();
    ods(&t, "rep.ods", &repeated(1_000_000, 1000));
    let out = run_capped(&t, &["run", "rep.ods", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("sheet \"S\" spans rows 1 to 1000001")
            && out.stderr.contains("--max-cells"),
        "{}",
        out.stderr
    );
}

/// An `.ods` sheet's content: a header, then one row of `cols` cells repeated `rows` times (a
/// few hundred bytes, however many cells it declares).
fn repeated(rows: u64, cols: u64) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
        xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
        xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.3\">\
        <office:body><office:spreadsheet><table:table table:name=\"S\">\
        <table:table-row><table:table-cell office:value-type=\"string\"><text:p>conversion_id</text:p>\
        </table:table-cell></table:table-row>\
        <table:table-row table:number-rows-repeated=\"{rows}\"><table:table-cell \
        office:value-type=\"float\" office:value=\"7\" table:number-columns-repeated=\"{cols}\">\
        <text:p>7</text:p></table:table-cell></table:table-row>\
        </table:table></office:spreadsheet></office:body></office:document-content>"
    )
}

/// An `.ods` of `content`, packed as `LibreOffice` packs one.
fn ods(t: &TestDir, name: &str, content: &str) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(t.path(name)).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("content.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.start_file(
        "META-INF/manifest.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.write_all(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" \
        manifest:version=\"1.3\"><manifest:file-entry manifest:full-path=\"/\" \
        manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
        <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>\
        </manifest:manifest>",
    )
    .unwrap();
    zip.finish().unwrap();
}

/// "Billion laughs": ten entities, each ten of the one before — 10^9 "lol"s if expanded.
fn laughs() -> String {
    let mut dtd = String::from("<!ENTITY lol0 \"lol\">");
    for i in 1..10 {
        let prev = format!("&lol{};", i - 1).repeat(10);
        let _ = write!(dtd, "<!ENTITY lol{i} \"{prev}\">");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><!DOCTYPE lolz [{dtd}]>\
         <office:document-content xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
         xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
         xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.3\">\
         <office:body><office:spreadsheet><table:table table:name=\"S\"><table:table-row>\
         <table:table-cell office:value-type=\"string\"><text:p>conversion_id</text:p>\
         </table:table-cell><table:table-cell office:value-type=\"string\"><text:p>&lol9;</text:p>\
         </table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>\
         </office:document-content>"
    )
}

#[test]
fn an_ods_of_nested_entities_is_never_expanded() {
    let t = TestDir::new();
    ods(&t, "lol.ods", &laughs());
    let started = std::time::Instant::now();
    let out = run_capped(&t, &["run", "lol.ods", "--dry-run"]);
    assert!(started.elapsed().as_secs() < 20, "{out:?}");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!out.stderr.contains("lollol"), "{}", out.stderr);
}

#[test]
fn every_bomb_uploaded_to_the_screen_is_an_error_page_and_the_server_keeps_serving() {
    let t = TestDir::new();
    let emu = Emu::with(Ledger::generated(100), Faults::default());
    far_corner(&t, "far.xlsx");
    // Beyond the default 1024 MB unpacked: the screen has no flag to raise it.
    zip_bomb(&t, "bomb.xlsx", 1100);
    ods(&t, "rep.ods", &repeated(1_000_000, 1000));
    ods(&t, "lol.ods", &laughs());
    // Within every limit (7 million cells), but more than the preview's memory: the child
    // reading it ends, never the server.
    ods(&t, "wide.ods", &repeated(1_000_000, 7));
    let s = crate::serve::Server::start(
        &t,
        &[
            "--base-url",
            emu.url.as_str(),
            "--listen",
            "127.0.0.1:0",
            "--preview-memory-mb",
            "256",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    let said: [(&str, &str); 5] = [
        ("far.xlsx", "spans rows 1 to 1048576"),
        ("bomb.xlsx", "unpacks to more than 1024 MB"),
        ("rep.ods", "spans rows 1 to 1000001"),
        ("lol.ods", "cannot be read this way"),
        ("wide.ods", "too large or malformed to preview"),
    ];
    for (name, words) in said {
        let bytes = std::fs::read(t.path(name)).unwrap();
        assert!(bytes.len() < 3_000_000, "{name} is a small upload");
        let started = std::time::Instant::now();
        let page = s.upload(name, &bytes);
        let preview = s.get(&page);
        assert_eq!(preview.status, 200, "{name}");
        assert!(preview.body.contains(words), "{name}: {}", preview.body);
        assert!(
            !preview.body.contains("id=\"apply\""),
            "{name}: no Apply for it"
        );
        assert!(
            started.elapsed().as_secs() < 60,
            "{name} answered within a minute"
        );
        assert_eq!(s.get("/").status, 200, "still serving after {name}");
    }
    let peak = s.peak_rss_kb();
    assert!(
        peak > 0 && peak < 300_000,
        "the server's peak RSS: {peak} kB"
    );
    assert_eq!(emu.stats().requests, 0);
}
