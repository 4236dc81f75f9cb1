//! Unit tests of `reader`.

use super::*;
use std::io::Write;

fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f
}

fn read_all(bytes: &[u8]) -> (Format, Vec<(u64, Vec<String>)>) {
    let f = write(bytes);
    let mut r = RecordReader::open(f.path(), &ReadOptions::default()).unwrap();
    let mut rec = csv::StringRecord::new();
    let mut out = Vec::new();
    while let Some(row) = r.next_record(&mut rec).unwrap() {
        out.push((row, rec.iter().map(str::to_string).collect()));
    }
    (r.format().clone(), out)
}

#[test]
fn utf8_plain_and_bom() {
    let (f, rows) = read_all(b"a,b\n1,2\n");
    assert_eq!((f.encoding, f.bom, f.delimiter), (UTF_8, false, b','));
    assert_eq!(
        rows,
        vec![
            (1, vec!["a".into(), "b".into()]),
            (2, vec!["1".into(), "2".into()])
        ]
    );
    let (f, rows) = read_all(b"\xEF\xBB\xBFa;b\r\n1;2\r\n");
    assert_eq!((f.encoding, f.bom, f.delimiter), (UTF_8, true, b';'));
    assert_eq!(rows[0].1, vec!["a", "b"]);
}

#[test]
fn utf16_with_bom() {
    let text = "id\tnote\r\n1\tcafé\r\n";
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let (f, rows) = read_all(&le);
    assert_eq!((f.encoding, f.delimiter), (UTF_16LE, b'\t'));
    assert_eq!(rows[1].1, vec!["1", "café"]);
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    let (f, rows) = read_all(&be);
    assert_eq!(f.encoding, UTF_16BE);
    assert_eq!(rows[1].1, vec!["1", "café"]);
}

#[test]
fn cp1252_when_not_utf8() {
    let (f, rows) = read_all(b"id,note\n1,caf\xE9 \x80\n");
    assert_eq!(f.encoding, WINDOWS_1252);
    assert_eq!(rows[1].1, vec!["1", "café €"]);
    assert!(f.encoding_label().contains("not valid UTF-8"));
}

#[test]
fn utf8_sequence_split_across_chunks_is_still_utf8() {
    let mut body = b"id,note\n".to_vec();
    while body.len() < 256 * 1024 - 1 {
        body.push(b'x');
    }
    body.extend("é\n".as_bytes());
    assert_eq!(first_invalid_utf8(&mut body.as_slice()).unwrap(), None);
    body.push(0xFF);
    assert_eq!(
        first_invalid_utf8(&mut body.as_slice()).unwrap(),
        Some(body.len() as u64 - 1)
    );
}

#[test]
fn forced_utf8_on_bad_bytes_is_an_error() {
    let f = write(b"id\n\xFF\n");
    let opts = ReadOptions {
        encoding: Some(UTF_8),
        ..ReadOptions::default()
    };
    let err = RecordReader::open(f.path(), &opts)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("not valid UTF-8"), "{err}");
}

#[test]
fn delimiters() {
    assert_eq!(sniff_delimiter(b"a,b;c,d\n"), b',');
    assert_eq!(sniff_delimiter(b"a;b;c,d\n"), b';');
    assert_eq!(sniff_delimiter(b"a\tb\tc\n1,2,3,4,5\n"), b'\t');
    assert_eq!(sniff_delimiter(b"\"a,b,c\";d;e\n"), b';');
    assert_eq!(sniff_delimiter(b"single\n"), b',');
    assert_eq!(sniff_delimiter(b"\n\na;b\n"), b';');
    assert_eq!(
        sniff_delimiter(b"June approvals\r\n\r\nid;payout\r\n1;\"1,5\"\r\n"),
        b';'
    );
    assert_eq!(sniff_delimiter(b"a;b"), b';', "no line end");
}

#[test]
fn row_numbers_count_blank_rows_but_not_embedded_newlines() {
    let (_, rows) =
        read_all(b"h1,h2\r\n1,\"two\r\nlines\"\r\n\r\n3,x\r\n,\r\n ,  \r\n4,y\r\n\r\n\r\n");
    let nums: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(nums, vec![1, 2, 4, 7]);
    assert_eq!(rows[1].1, vec!["1", "two\r\nlines"]);
    let (_, rows) = read_all(b"h1,h2\n1,\"two\nlines\"\n\n3,x\n,\n ,  \n4,y");
    let nums: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(nums, vec![1, 2, 4, 7]);
    // Old Mac line ends: no blank-row accounting, but still one row per record.
    let (_, rows) = read_all(b"h\r1\r2\r");
    let nums: Vec<u64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(nums, vec![1, 2, 3]);
}

#[test]
fn huge_cell_is_refused() {
    let mut body = b"id,note\n1,".to_vec();
    body.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
    body.push(b'\n');
    let f = write(&body);
    let mut r = RecordReader::open(f.path(), &ReadOptions::default()).unwrap();
    let mut rec = csv::StringRecord::new();
    assert_eq!(r.next_record(&mut rec).unwrap(), Some(1));
    let err = r.next_record(&mut rec).unwrap_err().to_string();
    assert!(err.contains("row 2"), "{err}");
}

#[test]
fn an_unclosed_quote_does_not_buffer_the_whole_file() {
    let mut body = b"id,note\n1,\"never closed\n".to_vec();
    for _ in 0..200_000 {
        body.extend_from_slice(b"2,some more text that is now inside one field\n");
    }
    let f = write(&body);
    let mut r = RecordReader::open(f.path(), &ReadOptions::default()).unwrap();
    let mut rec = csv::StringRecord::new();
    assert_eq!(r.next_record(&mut rec).unwrap(), Some(1));
    let err = r.next_record(&mut rec).unwrap_err().to_string();
    assert!(err.contains("unclosed quote"), "{err}");
}

#[test]
fn encoding_names() {
    assert_eq!(encoding_by_name("cp1252"), Some(WINDOWS_1252));
    assert_eq!(encoding_by_name("latin1"), Some(WINDOWS_1252));
    assert_eq!(encoding_by_name("UTF-8"), Some(UTF_8));
    assert_eq!(encoding_by_name("utf-16"), Some(UTF_16LE));
    assert_eq!(encoding_by_name("klingon"), None);
}
