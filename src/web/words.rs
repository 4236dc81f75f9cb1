//! The page's language: messages the engine writes for the command line (`use --map
//! "HEADER=conversion_id"`, `--skip-invalid`) said as the control on this page that does the
//! same. Only how a message is shown changes here — nothing is decided from its words; the
//! page's own decisions come from typed values (`DryRun`, `Exit`, statuses).

/// What a flag is on the page; a flag the screen has no control for is said to be the command
/// line's (ask whoever runs cake-recon).
fn control(flag: &str, value: Option<&str>) -> String {
    let unquoted = value.map(|v| v.trim_matches('"'));
    match flag {
        "map" => match unquoted.and_then(|v| v.rsplit_once('=')) {
            Some((header, field)) => {
                format!("choose {field} for the column “{header}” (How the sheet is read, Sends)")
            }
            None => "the Sends choice of the column (How the sheet is read)".into(),
        },
        "set" => "“Set for every row” (How the sheet is read)".into(),
        "values" => "“What the values of the column mean” (How the sheet is read)".into(),
        "date-order" => "the Date order choice (How the sheet is read)".into(),
        "decimal-comma" | "decimal-point" => {
            "the Decimal mark choice (How the sheet is read)".into()
        }
        "encoding" => "the Encoding choice (How the sheet is read)".into(),
        "delimiter" => "the Delimiter choice (How the sheet is read)".into(),
        "sheet" => "the Workbook sheet choice (How the sheet is read)".into(),
        "header-row" => "the Header row choice (How the sheet is read)".into(),
        "hidden-rows" => "the choice for hidden rows (How the sheet is read)".into(),
        "amounts" => {
            "the choice for amounts with more decimals than shown (How the sheet is read)".into()
        }
        "since" | "until" => "the days (From, To) of Compare with CAKE".into(),
        "skip-invalid" => "the box “Leave the invalid rows out” at Apply".into(),
        "edited-sheet" => "the box “This is the same sheet, edited” at Apply".into(),
        "read-back" => "Compare with CAKE first".into(),
        _ => "a command-line option (ask whoever runs cake-recon on this machine)".into(),
    }
}

/// `text` with every `--flag [VALUE]` of `run` put as the page's control, and `cake-recon
/// check` as the page's button.
#[must_use]
pub(super) fn page_words(text: &str) -> String {
    let text = text.replace("`cake-recon check`", "Compare with CAKE");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut last = String::new();
    while let Some(at) = rest.find("--") {
        let (before, from) = rest.split_at(at);
        let after = &from[2..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push_str(before);
            out.push_str("--");
            rest = after;
            continue;
        }
        let mut tail = &after[name_len..];
        let mut value = None;
        if crate::config::run_flag_takes_value(name).unwrap_or(false) {
            let v = tail.trim_start_matches([' ', '=']);
            if tail.len() != v.len() {
                let end = if let Some(q) = v.strip_prefix('"') {
                    q.find('"').map_or(v.len(), |e| e + 2)
                } else {
                    v.find([' ', ',', ';', ')', '\n']).unwrap_or(v.len())
                };
                let (val, t) = v.split_at(end.min(v.len()));
                // A placeholder in capitals (`--since DAY`) or a value: both are the flag's.
                value = Some(val);
                tail = t;
            }
        }
        let words = control(name, value);
        out.push_str(before);
        // `--since/--until`: one control, said once.
        if before.ends_with('/') && words == last {
            out.pop();
        } else {
            out.push_str(&words);
        }
        last = words;
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_the_controls_that_do_the_same() {
        let said = page_words(
            "row 7, column \"Conv. ID\": no column gives conversion_id: use --map \"Conv. ID=conversion_id\"",
        );
        assert!(
            said.ends_with(
                "choose conversion_id for the column “Conv. ID” (How the sheet is read, Sends)"
            ),
            "{said}"
        );
        let said = page_words("check the ids, or widen --since/--until; or use --skip-invalid.");
        assert_eq!(
            said,
            "check the ids, or widen the days (From, To) of Compare with CAKE; or use the box \
             “Leave the invalid rows out” at Apply."
        );
        let said = page_words("give --date-order dmy, or --resend-in-doubt-file F.csv");
        assert!(!said.contains(" --"), "{said}");
        assert!(
            said.contains("Date order") && !said.contains("dmy"),
            "{said}"
        );
        // Not flags: a dash in a value, a negative amount.
        assert_eq!(page_words("value \"--5\": 3 -- 4"), "value \"--5\": 3 -- 4");
    }
}
