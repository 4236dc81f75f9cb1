//! What the column profile decided about a sheet's ignored columns (see `profile.rs`), kept
//! apart so the formats can carry it without the profile's readers.

/// What the profile decided: columns to read as the disposition (`--map` pairs to add), and
/// the notes that say so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decided {
    pub maps: Vec<(String, String)>,
    pub notes: Vec<String>,
}
