//! The CAKE API: the parameter table, request building per transport, answer parsing.

pub(crate) mod client;
pub(crate) mod reports;
pub(crate) mod request;
pub(crate) mod response;
