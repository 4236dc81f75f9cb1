//! The row tables kept between requests.

use super::{RowIndex, Source};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The last few indexes, by their files as they are now (an edited or rewritten file is read
/// again).
#[derive(Default)]
pub(in crate::web) struct Tables {
    kept: Mutex<Vec<(String, Arc<RowIndex>)>>,
}

/// How many indexes are kept (a million rows' index is about 30 MB).
const KEPT: usize = 3;

impl Tables {
    pub(in crate::web) fn get(&self, root: &Path, source: Source) -> io::Result<Arc<RowIndex>> {
        let stamp = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| (m.len(), m.modified().ok()))
                .ok()
        };
        let key = format!(
            "{}|{:?}|{:?}|{:?}|{}|{:?}|{}",
            source.results.display(),
            stamp(&source.results),
            source.check,
            source.check.as_deref().map(stamp),
            source.duplicates.len(),
            source.counted,
            source.attention_first
        );
        if let Some(t) = self.kept.lock().ok().and_then(|k| {
            k.iter()
                .find(|(x, _)| *x == key)
                .map(|(_, t)| Arc::clone(t))
        }) {
            return Ok(t);
        }
        let t = Arc::new(RowIndex::build(root, source)?);
        if let Ok(mut k) = self.kept.lock() {
            k.push((key, Arc::clone(&t)));
            if k.len() > KEPT {
                k.remove(0);
            }
        }
        Ok(t)
    }
}
