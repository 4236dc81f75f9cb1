//! End-to-end tests of the `cake-recon` binary (one test binary, many modules).

mod dry_run;
mod util;
