//! Progress: a bar on a terminal, a log line every few seconds elsewhere.
//!
//! The bar is the progress of a `tracing` span that `tracing-indicatif` draws (see
//! [`crate::logging`]), so log lines and the bar never garble each other.

use crate::update::Status;
use indicatif::ProgressStyle;
use std::collections::BTreeMap;
use std::time::Duration;
use tracing::Span;
use tracing_indicatif::span_ext::IndicatifSpanExt as _;
// tokio's clock, so tests can run the periodic line on paused time.
use tokio::time::Instant;

/// Row counts as the run goes.
pub(crate) struct Progress {
    /// The span whose bar is drawn (only on a terminal, not quiet, no `--no-progress`).
    bar: Option<Span>,
    pub counts: BTreeMap<Status, u64>,
    pub done: u64,
    pub total: u64,
    started: Instant,
    last_log: Instant,
}

/// One periodic progress line.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    done: u64,
    total: u64,
    rows_per_sec: f64,
    counts: String,
}

/// How often the off-terminal log line is written.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// A bar when `show_bar` (a terminal, not quiet, no `--no-progress`), else log lines.
    #[must_use]
    pub(crate) fn new(total: u64, show_bar: bool) -> Self {
        let bar = show_bar.then(|| {
            let span = tracing::info_span!("rows", indicatif.pb_show = tracing::field::Empty);
            let style = ProgressStyle::with_template(
                "{bar:30.cyan/blue} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            span.pb_set_style(&style);
            span.pb_set_length(total);
            // The bar appears when its span is first entered and goes when the span closes.
            drop(span.enter());
            span
        });
        let now = Instant::now();
        Self {
            bar,
            counts: BTreeMap::new(),
            done: 0,
            total,
            started: now,
            last_log: now,
        }
    }

    /// Counts one finished row.
    pub(crate) fn record(&mut self, status: Status) {
        *self.counts.entry(status).or_default() += 1;
        self.done += 1;
        if let Some(bar) = &self.bar {
            bar.pb_set_position(self.done);
            bar.pb_set_message(&self.counts_text());
        }
    }

    /// `updated 10, rejected 1`.
    #[must_use]
    pub(crate) fn counts_text(&self) -> String {
        self.counts
            .iter()
            .map(|(s, n)| format!("{} {n}", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Writes the periodic log line when there is no bar.
    pub(crate) fn maybe_log(&mut self) {
        if let Some(line) = self.due() {
            tracing::info!(
                done = line.done,
                total = line.total,
                rows_per_sec = format!("{:.1}", line.rows_per_sec),
                counts = %line.counts,
                "progress"
            );
        }
    }

    /// The periodic line, when one is due (every [`LOG_EVERY`], and never with a bar).
    fn due(&mut self) -> Option<Line> {
        if self.bar.is_some() || self.last_log.elapsed() < LOG_EVERY {
            return None;
        }
        self.last_log = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        #[expect(clippy::cast_precision_loss, reason = "row counts are far below 2^52")]
        let rows_per_sec = self.done as f64 / secs;
        Some(Line {
            done: self.done,
            total: self.total,
            rows_per_sec,
            counts: self.counts_text(),
        })
    }

    /// Removes the bar.
    pub(crate) fn finish(&mut self) {
        self.bar = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn off_a_terminal_a_line_every_five_seconds_with_counts_and_rate() {
        let mut p = Progress::new(1000, false);
        for _ in 0..40 {
            p.record(Status::Updated);
        }
        p.record(Status::Rejected);
        assert_eq!(p.due(), None, "nothing before the first interval");
        tokio::time::advance(Duration::from_millis(4_999)).await;
        assert_eq!(p.due(), None);
        tokio::time::advance(Duration::from_millis(1)).await;
        let line = p.due().expect("due at five seconds");
        assert_eq!(line.done, 41);
        assert_eq!(line.total, 1000);
        assert_eq!(line.counts, "updated 40, rejected 1");
        assert!((line.rows_per_sec - 8.2).abs() < 1e-9, "{line:?}");
        assert_eq!(p.due(), None, "then not again until the next interval");
        tokio::time::advance(LOG_EVERY).await;
        assert!(p.due().is_some());
    }
}
