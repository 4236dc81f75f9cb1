//! Unit tests of `journal`.

use super::*;

pub(crate) fn ctx(job: &str, sha: &str) -> JobContext {
    JobContext {
        instance: "https://cake.example".into(),
        job: job.into(),
        checkpoint: format!("{job}.checkpoint"),
        sheet_sha256: sha.into(),
        sheet_name: "bonus.csv".into(),
        sheet_path: "/x/bonus.csv".into(),
    }
}

pub(crate) fn entry(row: u64, key: &str, addition: Option<&str>) -> JournalEntry {
    JournalEntry {
        row,
        key: key.into(),
        payout: "+2.00".into(),
        addition: addition.map(Into::into),
        ..JournalEntry::default()
    }
}

#[test]
fn another_job_sees_the_sheet_and_the_additions_this_one_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j").join("journal.sqlite");
    let mut job_a = Journal::open(&path, ctx("a", "s1")).unwrap();
    job_a.record_sheet().unwrap();
    let first = entry(2, "0|7||", Some("payout+2"));
    job_a.write_group(&[&first], &[], &[]).unwrap();
    // Job a itself is not "another job".
    assert!(job_a.sheet_sent_by_another_job().unwrap().is_none());
    assert!(
        job_a
            .earlier_addition("0|7||", None, "payout+2", 90)
            .unwrap()
            .is_none()
    );
    let job_b = Journal::open(&path, ctx("b", "s1")).unwrap();
    let earlier = job_b.sheet_sent_by_another_job().unwrap().unwrap();
    assert_eq!(earlier.name, "bonus.csv");
    assert!(job_b.others_added_lately(90).unwrap());
    // Sent without an outcome yet (a crash): may have applied.
    let hit = job_b
        .earlier_addition("0|7||", None, "payout+2", 90)
        .unwrap()
        .unwrap();
    assert_eq!(hit.outcome, None);
    assert!(
        job_b
            .earlier_addition("0|7||", None, "payout+3", 90)
            .unwrap()
            .is_none()
    );
    assert!(
        job_b
            .earlier_addition("0|8||", None, "payout+2", 90)
            .unwrap()
            .is_none()
    );
    // Refused by CAKE: it did not apply, so it does not count.
    job_a
        .write_group(&[], &[(2, "rejected", None)], &[])
        .unwrap();
    assert!(
        job_b
            .earlier_addition("0|7||", None, "payout+2", 90)
            .unwrap()
            .is_none()
    );
    // Withdrawn intents (never sent) do not make the sheet "applied".
    let job_c = Journal::open(&path, ctx("c", "s2")).unwrap();
    job_c.record_sheet().unwrap();
    let mut job_c = job_c;
    let second = entry(3, "0|9||", Some("payout+2"));
    job_c.write_group(&[&second], &[], &[3]).unwrap();
    let job_d = Journal::open(&path, ctx("d", "s2")).unwrap();
    assert!(job_d.sheet_sent_by_another_job().unwrap().is_none());
}

#[test]
fn one_instance_however_its_url_is_written() {
    let one = instance_key("https://admin.example.com");
    for other in [
        "HTTPS://Admin.Example.COM",
        "https://admin.example.com/",
        "https://admin.example.com:443",
        "https://admin.example.com/./",
        " https://admin.example.com ",
    ] {
        assert_eq!(instance_key(other), one, "{other}");
    }
    assert_ne!(instance_key("https://admin.example.com:8443"), one);
    assert_ne!(instance_key("http://admin.example.com"), one);
    assert_eq!(
        instance_key("http://127.0.0.1:8080/cake/"),
        "http://127.0.0.1:8080/cake"
    );
}
