//! Turning a spreadsheet export into a stream of records with spreadsheet row numbers.
//!
//! Excel and Google Sheets write UTF-8 with or without a BOM, UTF-16 with a BOM, or
//! Windows-1252; with `,`, `;` or tab; with CRLF and quoted newlines. This module decides the
//! encoding and the delimiter once, then streams: the file is never loaded whole.

use super::SheetError;
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// How much of the decoded file the delimiter sniffer looks at.
const SNIFF_BYTES: usize = 64 * 1024;
/// A single field larger than this is refused rather than buffered without bound.
pub(crate) const MAX_RECORD_BYTES: usize = 1024 * 1024;

/// What the reader decided about the file, shown in the dry run's "interpreted as" report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pub encoding: &'static Encoding,
    pub bom: bool,
    /// True when the user forced the encoding with `--encoding`.
    pub forced_encoding: bool,
    pub delimiter: u8,
    pub sniffed_delimiter: bool,
    /// A workbook, not text: its kind and the sheet read, as a person would name them.
    pub workbook: Option<String>,
}

impl Format {
    /// A human description such as `UTF-8 (with BOM)` or `windows-1252 (not valid UTF-8)`.
    #[must_use]
    pub fn encoding_label(&self) -> String {
        let name = self.encoding.name();
        if self.forced_encoding {
            format!("{name} (forced by --encoding)")
        } else if self.bom {
            format!("{name} (with BOM)")
        } else if self.encoding == WINDOWS_1252 {
            format!("{name} (the file is not valid UTF-8)")
        } else {
            name.to_string()
        }
    }

    /// `,`, `;` or `tab`, as a person would name it.
    #[must_use]
    pub fn delimiter_label(&self) -> String {
        let name = match self.delimiter {
            b'\t' => "tab".to_string(),
            d => format!("'{}'", d as char),
        };
        if self.sniffed_delimiter {
            format!("{name} (detected)")
        } else {
            format!("{name} (--delimiter)")
        }
    }
}

impl Default for Format {
    /// A plain UTF-8 CSV with commas: what cake-recon writes when nothing says otherwise.
    fn default() -> Self {
        Self {
            encoding: UTF_8,
            bom: false,
            forced_encoding: false,
            delimiter: b',',
            sniffed_delimiter: false,
            workbook: None,
        }
    }
}

/// What the reader decides about the file at `path` (its encoding, delimiter, or workbook),
/// without reading past the first part of it.
pub(crate) fn format_of(path: &Path, opts: &ReadOptions) -> Result<Format, SheetError> {
    Ok(RecordReader::open(path, opts)?.format)
}

/// Looks an `--encoding` name up (`utf-8`, `utf-16le`, `windows-1252`, `cp1252`, `latin1`, …).
pub(crate) fn encoding_by_name(name: &str) -> Option<&'static Encoding> {
    match name.to_ascii_lowercase().as_str() {
        "cp1252" | "windows1252" => Some(WINDOWS_1252),
        "utf16" | "utf-16" => Some(UTF_16LE),
        other => Encoding::for_label(other.as_bytes()),
    }
}

/// Decides the encoding: a BOM wins, then a forced encoding, then UTF-8 if every byte is valid
/// UTF-8, else Windows-1252 (what Excel on Windows writes for "CSV").
fn detect_encoding(
    path: &Path,
    forced: Option<&'static Encoding>,
) -> Result<(&'static Encoding, bool), SheetError> {
    let mut file = open(path)?;
    let mut head = [0u8; 3];
    let n = read_full(&mut file, &mut head).map_err(|e| io_err(path, e))?;
    let head = head.get(..n).unwrap_or_default();
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok((UTF_8, true));
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Ok((UTF_16LE, true));
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Ok((UTF_16BE, true));
    }
    if let Some(enc) = forced
        && enc != UTF_8
    {
        return Ok((enc, false));
    }
    match first_invalid_utf8(&mut open(path)?).map_err(|e| io_err(path, e))? {
        None => Ok((UTF_8, false)),
        Some(offset) if forced == Some(UTF_8) => Err(SheetError::Format {
            path: path.to_path_buf(),
            problem: format!(
                "is not valid UTF-8 (first bad byte at offset {offset}) although --encoding utf-8 \
                 was given; drop --encoding to read it as Windows-1252, or re-export as UTF-8"
            ),
        }),
        Some(_) => Ok((WINDOWS_1252, false)),
    }
}

/// Streams the file and returns the offset of the first byte that is not valid UTF-8.
fn first_invalid_utf8(r: &mut impl Read) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut carry = 0usize;
    let mut offset = 0u64;
    loop {
        let n = r.read(buf.get_mut(carry..).unwrap_or_default())?;
        let filled = carry + n;
        let chunk = buf.get(..filled).unwrap_or_default();
        match std::str::from_utf8(chunk) {
            Ok(_) => carry = 0,
            Err(e) => {
                if e.error_len().is_some() || n == 0 {
                    return Ok(Some(offset + e.valid_up_to() as u64));
                }
                // An incomplete sequence at the end of the chunk: keep it for the next read.
                let valid = e.valid_up_to();
                buf.copy_within(valid..filled, 0);
                carry = filled - valid;
                offset += valid as u64;
                continue;
            }
        }
        if n == 0 {
            return Ok(None);
        }
        offset += filled as u64;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default())? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn open(path: &Path) -> Result<File, SheetError> {
    File::open(path).map_err(|e| io_err(path, e))
}

fn io_err(path: &Path, source: io::Error) -> SheetError {
    SheetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Picks the delimiter that splits the header line into the most fields (outside quotes). The
/// header line is the first line that any delimiter splits at all: titles and blank lines above
/// a header are skipped (data lines below it are not looked at: their `1,234.56` amounts
/// would mislead).
fn sniff_delimiter(prefix: &[u8]) -> u8 {
    const LINES: usize = 20;
    let mut best = [0usize; 3];
    let mut counts = [0usize; 3];
    let mut in_quotes = false;
    let mut lines = 0;
    for &b in prefix {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => {
                if counts.iter().any(|&c| c > 0) {
                    best = counts;
                    break;
                }
                counts = [0; 3];
                lines += 1;
                if lines >= LINES {
                    break;
                }
            }
            b',' if !in_quotes => counts[0] += 1,
            b';' if !in_quotes => counts[1] += 1,
            b'\t' if !in_quotes => counts[2] += 1,
            _ => {}
        }
    }
    if best == [0; 3] {
        best = counts;
    }
    let [comma, semi, tab] = best;
    if semi > comma && semi >= tab {
        b';'
    } else if tab > comma && tab > semi {
        b'\t'
    } else {
        b','
    }
}

/// Options that change how bytes become records.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub encoding: Option<&'static Encoding>,
    pub delimiter: Option<u8>,
    /// Compute size and SHA-256 of the file while reading (for the checkpoint).
    pub fingerprint: bool,
    /// `--sheet NAME`: the workbook sheet to read (default: the first).
    pub sheet: Option<String>,
    /// `--max-cells`, `--max-unpacked-mb`: how big a workbook may be.
    pub limits: super::limits::Limits,
}

/// Offsets of the `\n` bytes the CSV parser has read ahead but not yet passed.
///
/// The csv crate's own line numbers are unreliable around blank lines and CRLF, so row numbers
/// are derived from where each record ends: every newline before it, less the record's own
/// terminator and embedded newlines, is a line above it — blank ones included, as a
/// spreadsheet counts them.
#[derive(Debug, Default)]
struct NewlineLog {
    pending: VecDeque<u64>,
    passed: u64,
    last_passed: Option<u64>,
    /// Where the last record ended: the parser never needs to hold more than what follows.
    record_end: u64,
}

/// The most a single record may span before reading stops: memory stays bounded whatever the
/// file (a stray quote can otherwise turn the rest of a file into one field).
pub(crate) const MAX_PENDING_BYTES: u64 = 8 * 1024 * 1024;

/// A reader that logs newline offsets into a shared [`NewlineLog`].
struct NewlineCounting<R> {
    inner: R,
    offset: u64,
    log: Arc<Mutex<NewlineLog>>,
}

impl<R: Read> Read for NewlineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.offset.saturating_sub(
            self.log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record_end,
        ) > MAX_PENDING_BYTES
        {
            return Err(io::Error::other(format!(
                "one row spans more than {} MiB (an unclosed quote?); this is not an approval sheet",
                MAX_PENDING_BYTES / (1024 * 1024)
            )));
        }
        let n = self.inner.read(buf)?;
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let offset = self.offset;
        log.pending.extend(
            memchr::memchr_iter(b'\n', buf.get(..n).unwrap_or_default()).map(|i| offset + i as u64),
        );
        self.offset += n as u64;
        Ok(n)
    }
}

/// Size and SHA-256 of the raw file bytes, accumulated as the reader streams them.
#[derive(Default)]
struct Digest {
    hasher: sha2::Sha256,
    size: u64,
}

/// A reader that feeds every raw byte into a shared [`Digest`] (when one is wanted).
struct Hashing<R> {
    inner: R,
    digest: Option<Arc<Mutex<Digest>>>,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use sha2::Digest as _;
        let n = self.inner.read(buf)?;
        if let Some(digest) = &self.digest {
            let mut d = digest.lock().unwrap_or_else(PoisonError::into_inner);
            d.hasher.update(buf.get(..n).unwrap_or_default());
            d.size += n as u64;
        }
        Ok(n)
    }
}

/// A streaming reader of records, each with its spreadsheet row number (header = row 1).
pub(crate) struct RecordReader {
    digest: Arc<Mutex<Digest>>,
    path: PathBuf,
    csv: csv::Reader<Box<dyn Read + Send>>,
    format: Format,
    newlines: Arc<Mutex<NewlineLog>>,
    /// Newlines inside quoted fields so far: lines, but not rows.
    embedded_newlines: u64,
    last_row: u64,
    /// A workbook's rows (read whole: calamine loads a sheet at once), instead of the CSV.
    book: Option<std::vec::IntoIter<(u64, Vec<String>)>>,
    /// What a workbook hides and shows (nothing, for a CSV).
    seen: super::workbook::Seen,
}

impl RecordReader {
    /// Opens the file, decides encoding and delimiter, and positions before the first record.
    pub(crate) fn open(path: &Path, opts: &ReadOptions) -> Result<Self, SheetError> {
        if let Some(kind) = super::workbook::kind(path) {
            return Self::open_workbook(path, kind, opts);
        }
        if opts.sheet.is_some() {
            return Err(SheetError::Format {
                path: path.to_path_buf(),
                problem: "is not a workbook: --sheet applies to .xlsx, .xls and .ods files only"
                    .into(),
            });
        }
        let (encoding, bom) = detect_encoding(path, opts.encoding)?;
        let mut builder = DecodeReaderBytesBuilder::new();
        builder.strip_bom(true).bom_override(true);
        if encoding == UTF_8 {
            // Validity was checked above: pass the bytes through untouched.
            builder.utf8_passthru(true);
        } else {
            builder.encoding(Some(encoding));
        }
        let digest = Arc::new(Mutex::new(Digest::default()));
        let hashing = Hashing {
            inner: open(path)?,
            digest: opts.fingerprint.then(|| Arc::clone(&digest)),
        };
        let mut decoded = builder.build(BufReader::with_capacity(256 * 1024, hashing));
        let mut prefix = vec![0u8; SNIFF_BYTES];
        let n = read_full(&mut decoded, &mut prefix).map_err(|e| io_err(path, e))?;
        prefix.truncate(n);
        let delimiter = opts.delimiter.unwrap_or_else(|| sniff_delimiter(&prefix));
        let newlines = Arc::new(Mutex::new(NewlineLog::default()));
        let stream: Box<dyn Read + Send> = Box::new(NewlineCounting {
            inner: Cursor::new(prefix).chain(decoded),
            offset: 0,
            log: Arc::clone(&newlines),
        });
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(64 * 1024)
            .from_reader(stream);
        Ok(Self {
            digest,
            path: path.to_path_buf(),
            csv,
            format: Format {
                encoding,
                bom,
                forced_encoding: opts.encoding.is_some() && !bom,
                delimiter,
                sniffed_delimiter: opts.delimiter.is_none(),
                workbook: None,
            },
            newlines,
            embedded_newlines: 0,
            last_row: 0,
            book: None,
            seen: super::workbook::Seen::default(),
        })
    }

    fn open_workbook(
        path: &Path,
        kind: &'static str,
        opts: &ReadOptions,
    ) -> Result<Self, SheetError> {
        let book = super::workbook::read(path, kind, opts.sheet.as_deref(), &opts.limits)?;
        let digest = Arc::new(Mutex::new(Digest::default()));
        if opts.fingerprint {
            let mut hashing = Hashing {
                inner: open(path)?,
                digest: Some(Arc::clone(&digest)),
            };
            io::copy(&mut hashing, &mut io::sink()).map_err(|e| io_err(path, e))?;
        }
        let others = if book.sheets.len() > 1 {
            let hidden = if book.hidden_sheets.is_empty() {
                String::new()
            } else {
                format!(
                    ", hidden sheets left unread: {}",
                    book.hidden_sheets
                        .iter()
                        .map(|h| format!("\"{h}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!(
                " (the first visible of {} sheets{hidden}; --sheet NAME reads another)",
                book.sheets.len()
            )
        } else {
            String::new()
        };
        let empty: Box<dyn Read + Send> = Box::new(io::empty());
        Ok(Self {
            digest,
            path: path.to_path_buf(),
            csv: csv::ReaderBuilder::new().from_reader(empty),
            format: Format {
                encoding: UTF_8,
                bom: false,
                forced_encoding: false,
                delimiter: b',',
                sniffed_delimiter: false,
                workbook: Some(format!(
                    "{} workbook, sheet \"{}\"{}",
                    book.kind,
                    book.sheet,
                    if opts.sheet.is_some() {
                        String::new()
                    } else {
                        others
                    }
                )),
            },
            newlines: Arc::new(Mutex::new(NewlineLog::default())),
            embedded_newlines: 0,
            last_row: 0,
            book: Some(book.rows),
            seen: book.seen,
        })
    }

    /// Size and hex SHA-256 of the bytes read so far (the whole file once it is read to the end).
    #[must_use]
    pub(crate) fn fingerprint(&self) -> (u64, String) {
        use sha2::Digest as _;
        let d = self.digest.lock().unwrap_or_else(PoisonError::into_inner);
        let hash = d.hasher.clone().finalize();
        let hex = hash.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        (d.size, hex)
    }

    /// What the workbook hides, and what its cells show where that is not what they hold.
    #[must_use]
    pub(crate) fn seen(&self) -> &super::workbook::Seen {
        &self.seen
    }

    /// What was decided about the file.
    #[must_use]
    pub(crate) fn format(&self) -> &Format {
        &self.format
    }

    /// Reads the next non-blank record into `record` and returns its spreadsheet row number.
    ///
    /// Blank rows (every cell empty or spaces) are skipped but still counted, as a spreadsheet
    /// shows them.
    pub(crate) fn next_record(
        &mut self,
        record: &mut csv::StringRecord,
    ) -> Result<Option<u64>, SheetError> {
        if let Some(book) = &mut self.book {
            for (row, cells) in book.by_ref() {
                if cells.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                record.clear();
                for c in &cells {
                    record.push_field(c);
                }
                self.last_row = row;
                return Ok(Some(row));
            }
            return Ok(None);
        }
        loop {
            let more = self
                .csv
                .read_record(record)
                .map_err(|e| self.csv_error(&e))?;
            if !more {
                return Ok(None);
            }
            let end = self.csv.position().byte();
            let mut too_big = false;
            for field in record.iter() {
                self.embedded_newlines +=
                    memchr::memchr_iter(b'\n', field.as_bytes()).count() as u64;
                too_big |= field.len() > MAX_RECORD_BYTES;
            }
            let lines_above = {
                let mut log = self.newlines.lock().unwrap_or_else(PoisonError::into_inner);
                while log.pending.front().is_some_and(|&o| o < end) {
                    log.last_passed = log.pending.pop_front();
                    log.passed += 1;
                }
                log.record_end = end;
                let terminator = u64::from(end > 0 && log.last_passed == Some(end - 1));
                log.passed
                    .saturating_sub(terminator)
                    .saturating_sub(self.embedded_newlines)
            };
            let row = (lines_above + 1).max(self.last_row + 1);
            self.last_row = row;
            if too_big {
                return Err(SheetError::Format {
                    path: self.path.clone(),
                    problem: format!(
                        "row {row} has a cell larger than {} KiB; this is not an approval sheet \
                         (check for an unclosed quote above it)",
                        MAX_RECORD_BYTES / 1024
                    ),
                });
            }
            if record.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            return Ok(Some(row));
        }
    }

    fn csv_error(&self, e: &csv::Error) -> SheetError {
        let at = format!(" after row {}", self.last_row);
        let problem = match e.kind() {
            csv::ErrorKind::Utf8 { .. } => format!(
                "has text that is not valid {}{at}; give the right --encoding",
                self.format.encoding.name()
            ),
            csv::ErrorKind::Io(io) => format!("could not be read{at}: {io}"),
            _ => format!("is not a readable CSV file{at}: {e}"),
        };
        SheetError::Format {
            path: self.path.clone(),
            problem,
        }
    }
}

#[cfg(test)]
mod tests;
