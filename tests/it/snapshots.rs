//! What a person reads, pinned as snapshots (`tests/it/snapshots/`): the dry-run preview, the
//! summary, `status`, and the results file. Review a change with `cargo insta review`, or
//! rewrite them with `INSTA_UPDATE=always cargo test`.

use crate::util::TestDir;

/// Times, rates and timestamps vary from run to run; everything else must not.
fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"in \d+\.\d s \(\d+\.\d/s;", "in [SECS] s ([RATE]/s;"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", "[TIMESTAMP]"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "[TIME]"),
    ]
}

#[test]
fn dry_run_preview_of_an_excel_export() {
    let t = TestDir::new();
    t.sample("excel-export.csv");
    let out = t.run_as_is(&["run", "excel-export.csv", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    insta::assert_snapshot!("dry_run_excel_export_stdout", out.stdout);
    insta::assert_snapshot!(
        "dry_run_excel_export_results",
        t.read("excel-export.results.csv")
    );
}

#[test]
fn dry_run_preview_of_a_sheet_with_errors() {
    let t = TestDir::new();
    t.sample("errors.csv");
    let out = t.run_as_is(&["run", "errors.csv", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    insta::assert_snapshot!("dry_run_errors_stdout", out.stdout);
    insta::assert_snapshot!("dry_run_errors_results", t.read("errors.results.csv"));
}

#[test]
fn summary_status_and_results_of_a_sandbox_run() {
    let t = TestDir::new();
    t.sample("approvals.csv");
    let out = t.run_as_is(&[
        "run",
        "approvals.csv",
        "--sandbox",
        "--no-progress",
        "--rate",
        "50",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let status = t.run_as_is(&["status", "approvals.results.csv.sandbox.ckpt"]);
    assert_eq!(status.code, 0, "{status:?}");
    // The same command again: nothing is sent, and the summary claims no money for this run.
    let again = t.run_as_is(&[
        "run",
        "approvals.csv",
        "--sandbox",
        "--no-progress",
        "--rate",
        "50",
    ]);
    assert_eq!(again.code, 0, "{again:?}");
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("sandbox_summary", out.stdout);
        insta::assert_snapshot!("sandbox_status", status.stdout);
        insta::assert_snapshot!("sandbox_results", t.read("approvals.results.csv"));
        insta::assert_snapshot!("sandbox_rerun_summary", again.stdout);
    });
}

/// A month-end sheet as finance writes it: `;` and decimal commas, day-first conversion dates,
/// a yes/no decision column given its meaning by `--values`, a total line and a note below.
#[test]
fn dry_run_preview_of_a_month_end_sheet_with_a_value_map() {
    let t = TestDir::new();
    t.sample("month-end.csv");
    let out = t.run_as_is(&[
        "run",
        "month-end.csv",
        "--dry-run",
        "--values",
        "Approved?=Yes:approved,No:rejected",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    insta::assert_snapshot!("dry_run_month_end_stdout", out.stdout);
}

/// Workbooks as openpyxl writes them: rows filtered out of view, and amounts shown with fewer
/// decimals than they hold (both stop a run until the person chooses).
#[test]
fn dry_run_preview_of_what_a_workbook_hides() {
    let t = TestDir::new();
    t.sample("filtered.xlsx");
    t.sample("shown-amounts.xlsx");
    // The days the conversions are in: their offers are read from CAKE.
    let dry = |sheet: &str, more: &[&str]| {
        let mut args = vec!["run", sheet, "--dry-run", "--since", "2026-09-01"];
        args.extend(["--until", "2026-09-30"]);
        args.extend_from_slice(more);
        t.run_as_is(&args)
    };
    let filtered = dry("filtered.xlsx", &[]);
    assert_eq!(filtered.code, 2, "{filtered:?}");
    let skipped = dry("filtered.xlsx", &["--hidden-rows", "skip"]);
    assert_eq!(skipped.code, 0, "{skipped:?}");
    let shown = dry("shown-amounts.xlsx", &[]);
    assert_eq!(shown.code, 2, "{shown:?}");
    insta::assert_snapshot!("dry_run_filtered_stdout", filtered.stdout);
    insta::assert_snapshot!("dry_run_filtered_skipped_stdout", skipped.stdout);
    insta::assert_snapshot!("dry_run_shown_amounts_stdout", shown.stdout);
}
