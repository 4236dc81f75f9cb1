//! A CSV written through a uniquely named temporary file beside its target and renamed into
//! place when complete: a reader never sees half a file, and an abandoned one leaves nothing.

use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// A CSV being written to `path`.
pub(crate) struct AtomicCsv {
    csv: csv::Writer<BufWriter<NamedTempFile>>,
    path: PathBuf,
}

impl AtomicCsv {
    /// Starts `path` with `header`, in `delimiter`, with a BOM when `bom` (so it opens in Excel
    /// the way the sheet did).
    pub(crate) fn create(
        path: &Path,
        header: &[&str],
        delimiter: u8,
        bom: bool,
    ) -> io::Result<Self> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)?;
        let mut out = BufWriter::new(tmp);
        if bom {
            io::Write::write_all(&mut out, "\u{feff}".as_bytes())?;
        }
        let mut csv = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .from_writer(out);
        csv.write_record(header).map_err(io::Error::other)?;
        Ok(Self {
            csv,
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn write<I, T>(&mut self, record: I) -> io::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.csv.write_record(record).map_err(io::Error::other)
    }

    /// Flushes, fsyncs and renames the file into place.
    pub(crate) fn finish(self) -> io::Result<PathBuf> {
        let tmp = self
            .csv
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))?
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(self.path)
    }
}
