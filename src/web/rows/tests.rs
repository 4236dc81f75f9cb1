use super::*;
use std::fmt::Write as _;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_preview_joined_with_its_comparison_gives_now_new_and_delta_and_sums_by_status() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let results = write(
        root,
        "r.csv",
        "\u{feff}row;conversion_id;request_session_id;transaction_id;offer_id;payout;received;disposition_type;status;attempts;http_status;message\n\
         2;7;;;;12.50;;approved;would_update;0;;\n\
         3;8;;;;+2.00;;;would_update;0;;\n\
         4;x;;;;abc;;;invalid;0;;\"row 4, column \"\"id\"\": bad\"\n\
         5;9;;;;+-1.50;;;would_update;0;;\n\
         6;9;;;;3;;;invalid;0;;dup\n",
    );
    let check = write(
        root,
        "c.csv",
        "\u{feff}row;conversion_id;request_session_id;transaction_id;status;differences;cake_conversion_id;cake_payout;cake_received;cake_disposition;cake_offer_id;cake_offer_name;cake_affiliate_id;cake_affiliate_name\n\
         2;7;;;differs;payout;7;10;1;pending;5;Offer A;16;Aff\n\
         3;8;;;additive;;8;1;0;approved;5;Offer A;17;Other\n\
         4;;;;invalid;;;;;;;;;\n\
         5;9;;;additive;;9;4;0;approved;6;;16;Aff\n",
    );
    let t = RowIndex::build(
        root,
        Source {
            results,
            check: Some(check),
            duplicates: Arc::new(vec![6]),
            counted: Counted::ToSend,
            attention_first: false,
        },
    )
    .unwrap();
    assert!(t.compared);
    let names: Vec<&str> = t.statuses.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(names, ["invalid", "duplicate", "differs", "additive"]);
    let rows = t.page(None, 1).unwrap();
    assert_eq!(rows.len(), 5);
    let first = &rows[0];
    assert_eq!(first.payout.now, Some(Decimal::new(10, 0)));
    assert_eq!(first.payout.after(), Some(Decimal::new(1250, 2)));
    assert_eq!(first.payout.delta(), Some(Decimal::new(250, 2)));
    assert!(first.payout.differs() && first.disposition_differs());
    assert_eq!(first.offer, "5");
    let add = &rows[1];
    assert_eq!(add.payout.after(), Some(Decimal::new(300, 2)));
    assert_eq!(rows[3].payout.after(), Some(Decimal::new(250, 2)));
    assert_eq!(rows[4].status, "duplicate");
    let adds = t.sums(Some("additive"));
    assert_eq!(adds.rows, 2);
    assert_eq!(adds.payout_added, Decimal::new(50, 2));
    // The totals by offer count only what would be sent.
    let offers: Vec<&str> = t.by_offer.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(offers, ["5 Offer A", "6"]);
    assert_eq!(t.by_affiliate.len(), 2);
    assert_eq!(t.page(Some("additive"), 1).unwrap()[1].row, 5);
    assert!(t.page(Some("additive"), 2).unwrap().is_empty());
}

#[test]
fn a_run_lists_what_needs_doing_first_and_counts_only_applied_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "row,conversion_id,request_session_id,transaction_id,offer_id,payout,received,disposition_type,status,attempts,http_status,message\n",
    );
    for r in 2..130u64 {
        let status = if r % 40 == 0 { "rejected" } else { "updated" };
        let _ = writeln!(text, "{r},{r},,,5,1.00,,approved,{status},1,200,");
    }
    let results = write(dir.path(), "r.csv", &text);
    let t = RowIndex::build(
        dir.path(),
        Source {
            results,
            check: None,
            duplicates: Arc::default(),
            counted: Counted::Applied,
            attention_first: true,
        },
    )
    .unwrap();
    assert_eq!(t.pages(None), 3);
    let first = t.page(None, 1).unwrap();
    assert_eq!(first[0].status, "rejected");
    assert_eq!(first[3].status, "updated");
    assert_eq!(t.by_offer[0].1.rows, 125);
    assert_eq!(t.page(None, 3).unwrap().len(), 128 - 100);
}
