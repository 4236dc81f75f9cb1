//! A row's final status: the results file's words, the checkpoint's record and the exit code's
//! input, so it sits with the row types at the bottom.

/// A row's final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// CAKE said success.
    Updated,
    /// CAKE said success=false (e.g. `Conversion Not Found`).
    Rejected,
    /// Failed validation; not sent.
    Invalid,
    /// Gave up: retries exhausted or a permanent HTTP error.
    Failed,
    /// An additive row whose outcome is unknown; not re-sent.
    InDoubt,
    /// Dry run: would be sent.
    WouldUpdate,
    /// Not a data row (a total line): reported, never sent, not an error.
    Skipped,
    /// Read back: CAKE already held every value the row sets; not sent.
    Unchanged,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 8] = [
        Status::Updated,
        Status::Rejected,
        Status::Invalid,
        Status::Failed,
        Status::InDoubt,
        Status::WouldUpdate,
        Status::Skipped,
        Status::Unchanged,
    ];

    /// The spelling in the results file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Updated => "updated",
            Status::Rejected => "rejected",
            Status::Invalid => "invalid",
            Status::Failed => "failed",
            Status::InDoubt => "in_doubt",
            Status::WouldUpdate => "would_update",
            Status::Skipped => "skipped",
            Status::Unchanged => "unchanged",
        }
    }

    /// Parses the results-file spelling.
    #[must_use]
    pub fn from_str_opt(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}
