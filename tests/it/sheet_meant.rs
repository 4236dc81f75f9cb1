//! The sheet read as the person meant it (issue 19): where a cell could be read two ways, the
//! tool asks instead of guessing. Each test asserts on what the emulator's ledger received.

use crate::emu::{Emu, run};
use crate::run::results;
use crate::util::TestDir;
use cake_recon::mock::{Faults, Ledger};
use rust_decimal::Decimal;

fn cake() -> Emu {
    Emu::with(Ledger::generated(30_000), Faults::default())
}

#[test]
fn one_junk_cell_never_flips_the_decimal_mark() {
    for junk in [
        "n/a,0",
        "abc,5",
        "see note,1",
        "=SUM(A1,2)",
        "12,5 (pending)",
    ] {
        let t = TestDir::new();
        let emu = cake();
        t.write(
            "june.csv",
            format!("conversion_id,payout\n101,1.500\n102,2.250\n103,\"{junk}\"\n"),
        );
        let preview = run(&t, &emu, "june.csv", &["--dry-run", "--skip-invalid"]);
        assert!(
            !preview.stdout.contains("decimal comma (from"),
            "{junk}: {}",
            preview.stdout
        );
        run(&t, &emu, "june.csv", &["--skip-invalid"]);
        let ledger = emu.conversions();
        for id in [101, 102] {
            let paid = ledger.get(&id).map(|c| c.payout);
            assert!(
                paid.is_none_or(|p| p < Decimal::from(100)),
                "{junk}: conversion {id} was paid {paid:?}"
            );
        }
        // `1.500` reads two ways and nothing decides: those rows are asked about, not sent.
        let lines = results(&t, "june.results.csv");
        assert!(
            lines[0]["message"].contains("ambiguous"),
            "{junk}: {:?}",
            lines[0]
        );
    }
}

#[test]
fn spaced_thousands_and_the_accounting_zero_read_as_shown() {
    let t = TestDir::new();
    let emu = cake();
    t.write(
        "eu.csv",
        "conversion_id;payout\n201;1 234,56\n202;\"1\u{a0}000,00\"\n203;€ -\n",
    );
    let out = run(&t, &emu, "eu.csv", &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let ledger = emu.conversions();
    assert_eq!(ledger[&201].payout, Decimal::new(123_456, 2));
    assert_eq!(ledger[&202].payout, Decimal::new(100_000, 2));
    assert_eq!(ledger[&203].payout, Decimal::ZERO);
}
