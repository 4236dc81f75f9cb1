//! The CAKE emulator behind `--sandbox` and `mock-server`: strict ASP.NET-style binding through
//! the one parameter table, a ledger with CAKE's semantics, fault injection, and admin
//! endpoints that show what really happened. It sits beside the product: it shares only the
//! bottom layer ([`crate::update`]) and is started by the app, never by the engine.

mod answers;
mod binding;
mod faults;
mod gateway;
mod ledger;
mod reports;
mod sandbox;
mod server;
mod state;
mod update;

pub use faults::Faults;
pub use ledger::{Conversion, Ledger, MAX_GENERATED};
pub use reports::event_conversions_page;
pub use sandbox::{SANDBOX_KEY, Sandbox};
pub use server::{MockConfig, MockServer};
pub use state::Stats;
pub use update::OFFER_0_REFUSED;
