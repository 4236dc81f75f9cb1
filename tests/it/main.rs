//! End-to-end tests of the `cake-recon` binary (one test binary, many modules).

#![allow(clippy::unwrap_used, reason = "test helpers fail loudly by design")]

mod approval;
mod architecture;
mod aspnet;
mod browser;
mod check;
mod dry_run;
mod emu;
mod emulator;
mod exactly_once;
mod finance;
mod hostile;
mod in_doubt;
mod jail;
mod limits;
mod month;
mod offers;
mod one_conversion;
mod page_money;
mod paths;
mod resume;
mod run;
mod safety;
mod secrets;
mod serve;
mod settling;
mod sheet_meant;
mod snapshots;
mod stop;
mod unseen;
mod util;
mod workbook;
