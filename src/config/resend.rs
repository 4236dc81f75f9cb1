//! `--resend-in-doubt [ROWS|@FILE]` and `--resend-in-doubt-file FILE` → one typed
//! [`ResendInDoubt`], checked here once (the rows' syntax, the file's lines).

use crate::engine::{Pick, ResendInDoubt};
use crate::error::Error;
use std::collections::BTreeSet;
use std::path::Path;

/// The most rows a selection may name (a range like `2-999999999` is a typo, not a choice).
const MAX_ROWS: u64 = 1_000_000;

/// What a run's `--resend-in-doubt` and `--resend-in-doubt-file` select.
pub(super) fn of_args(a: &super::RunArgs) -> Result<ResendInDoubt, Error> {
    resend_in_doubt(
        a.resend_in_doubt.as_deref(),
        a.resend_in_doubt_file.as_deref(),
    )
}

/// What `--resend-in-doubt` (its value, `all` when given alone) and `--resend-in-doubt-file`
/// select.
pub(super) fn resend_in_doubt(
    value: Option<&str>,
    file: Option<&Path>,
) -> Result<ResendInDoubt, Error> {
    match (value.map(str::trim), file) {
        (None, None) => Ok(ResendInDoubt::None),
        (Some(_), Some(_)) => Err(Error::Usage(
            "--resend-in-doubt and --resend-in-doubt-file both select rows to send again; give \
             one of them"
                .into(),
        )),
        (Some(v), None) if v.eq_ignore_ascii_case("all") => Ok(ResendInDoubt::All),
        (Some(v), None) => match v.strip_prefix('@') {
            Some(path) => conversions(Path::new(path), "--resend-in-doubt @"),
            None => rows(v),
        },
        (None, Some(path)) => conversions(path, "--resend-in-doubt-file "),
    }
}

/// `4,7,10-12` → those row numbers.
fn rows(v: &str) -> Result<ResendInDoubt, Error> {
    let bad = |why: String| {
        Error::Usage(format!(
            "--resend-in-doubt {v}: {why}; give the sheet's row numbers as `status` lists them \
             (e.g. 4,7,10-12), @FILE for a file of conversion ids, or the flag alone for every \
             in-doubt row"
        ))
    };
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad(format!("\"{}\" is not a row number", s.trim())))
    };
    let mut set = BTreeSet::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(part)?, number(part)?),
        };
        if from > to {
            return Err(bad(format!("the range {part} runs backwards")));
        }
        if to - from >= MAX_ROWS || set.len() as u64 + (to - from) >= MAX_ROWS {
            return Err(bad(format!("more than {MAX_ROWS} rows selected")));
        }
        set.extend(from..=to);
    }
    if set.is_empty() {
        return Err(bad("no rows given".into()));
    }
    Ok(ResendInDoubt::Rows(set))
}

/// A file of conversions, one per line: `7` (a conversion id), or as `status` prints them —
/// `conversion_id 7`, `request_session_id 12`, `transaction_id "T7"`. Blank lines, `#`
/// comments and a header line naming the column are skipped.
fn conversions(path: &Path, flag: &str) -> Result<ResendInDoubt, Error> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "{flag}{shown}: cannot read it ({e}); give a text file of conversion ids, one per line"
        ))
    })?;
    let mut picks = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}').trim();
        if line.is_empty()
            || line.starts_with('#')
            || ["conversion_id", "request_session_id", "transaction_id"]
                .iter()
                .any(|h| line.eq_ignore_ascii_case(h))
        {
            continue;
        }
        let pick = pick(line).ok_or_else(|| {
            Error::Usage(format!(
                "{flag}{shown}, line {}: \"{line}\" names no conversion; write a conversion id \
                 (7), or `conversion_id 7`, `request_session_id 12` or `transaction_id T7` as \
                 `cake-recon status` lists them",
                i + 1
            ))
        })?;
        picks.insert(pick);
    }
    if picks.is_empty() {
        return Err(Error::Usage(format!(
            "{flag}{shown}: the file names no conversion; write one conversion id per line"
        )));
    }
    Ok(ResendInDoubt::Conversions(picks))
}

/// One line of a conversions file.
fn pick(line: &str) -> Option<Pick> {
    let id = |s: &str| s.parse::<i32>().ok().filter(|n| *n > 0);
    let rest = |prefix: &str| {
        line.get(..prefix.len())
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .and_then(|_| line.get(prefix.len()..))
            .filter(|r| r.starts_with([' ', '\t', '=', ':', ',']))
            .map(|r| r.trim_start_matches([' ', '\t', '=', ':', ',']).trim())
    };
    if let Some(v) = rest("conversion_id") {
        id(v).map(Pick::ConversionId)
    } else if let Some(v) = rest("request_session_id") {
        id(v).map(Pick::RequestSessionId)
    } else if let Some(v) = rest("transaction_id") {
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        (!v.is_empty()).then(|| Pick::TransactionId(v.to_string()))
    } else {
        id(line).map(Pick::ConversionId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_ranges_and_mistakes() {
        assert_eq!(resend_in_doubt(None, None).ok(), Some(ResendInDoubt::None));
        assert_eq!(
            resend_in_doubt(Some("all"), None).ok(),
            Some(ResendInDoubt::All)
        );
        assert_eq!(
            resend_in_doubt(Some("4, 7,10-12"), None).ok(),
            Some(ResendInDoubt::Rows([4, 7, 10, 11, 12].into()))
        );
        for bad in ["", "0", "3-1", "x", "2-99999999999", "4,,x"] {
            let e = resend_in_doubt(Some(bad), None).unwrap_err().to_string();
            assert!(
                e.contains("row numbers as `status` lists them"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_file_of_conversions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.txt");
        std::fs::write(
            &path,
            "conversion_id\n7\n# checked in CAKE\n\nconversion_id 8\ntransaction_id \"00871\"\n\
             request_session_id=12\n",
        )
        .unwrap();
        let want = ResendInDoubt::Conversions(
            [
                Pick::ConversionId(7),
                Pick::ConversionId(8),
                Pick::TransactionId("00871".into()),
                Pick::RequestSessionId(12),
            ]
            .into(),
        );
        let at = format!("@{}", path.display());
        assert_eq!(resend_in_doubt(Some(&at), None).ok(), Some(want.clone()));
        assert_eq!(resend_in_doubt(None, Some(&path)).ok(), Some(want));
        std::fs::write(&path, "7\nT7\n").unwrap();
        let e = resend_in_doubt(None, Some(&path)).unwrap_err().to_string();
        assert!(e.contains("line 2: \"T7\" names no conversion"), "{e}");
        let e = resend_in_doubt(Some("@/no/such/file"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read it"), "{e}");
    }
}
