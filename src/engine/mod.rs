//! The run: pre-pass → dispatcher (rate gate) → workers (HTTP) → one result writer.
//!
//! The engine receives validated [`Settings`] and a plain [`Destination`] (URL and key); it
//! knows nothing of flags, config files or the emulator.

mod breaker;
mod dispatcher;
pub(crate) mod limiter;
mod offers;
mod plan;
pub(crate) mod read_back;
mod resend;
pub(crate) mod retry;
mod run;
pub(crate) mod scan;
mod settings;
mod settle;
pub(crate) mod shutdown;
mod worker;

pub(crate) use read_back::ReadBackSettings;
pub(crate) use resend::{Pick, ResendInDoubt};
pub(crate) use run::{run, sheet_questions};
pub(crate) use settings::{Destination, JournalSettings, Settings};
mod journaling;
pub(crate) use journaling::preview as journal_preview;
pub(crate) use offers::wanting as offers_wanting;
pub(crate) use read_back::{NO_WINDOW, window_known};
