//! The CAKE API: the parameter table, request building per transport, answer parsing.

pub mod client;
pub mod request;
pub mod response;
