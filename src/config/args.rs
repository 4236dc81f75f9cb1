//! The raw flags of `run` and `mock-server` (clap derive only): what the user typed, before
//! the config file and the environment are merged in and everything is checked
//! ([`super::resolve`]).

use crate::cake::request::Transport;
use crate::logging::LogFormat;
use crate::sheet::parse::{DateOrder, DecimalStyle};
use clap::Args;
use std::path::PathBuf;

fn parse_version(s: &str) -> Result<u8, String> {
    match s {
        "2" => Ok(2),
        "4" => Ok(4),
        _ => Err("the API version must be 2 or 4".into()),
    }
}

/// `--set FIELD=VALUE`: a field name never holds `=`, a value may (`note_to_append=ref=A7`).
pub(crate) fn parse_set(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .filter(|(a, _)| !a.trim().is_empty())
        .ok_or_else(|| format!("expected FIELD=VALUE, got \"{s}\""))
}

/// `--map HEADER=FIELD`: a header may hold `=` (`Payout=USD`), a field name never does.
pub(crate) fn parse_map(s: &str) -> Result<(String, String), String> {
    s.rsplit_once('=')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .filter(|(a, _)| !a.trim().is_empty())
        .ok_or_else(|| format!("expected HEADER=FIELD, got \"{s}\""))
}

/// Parses a delimiter name or character.
/// `--resend-in-doubt`'s value, as far as clap needs to see it: a selection (`all`, row
/// numbers, `@FILE`), never the sheet it may have taken from `--resend-in-doubt SHEET`. What
/// it selects is checked in `resolve`.
fn parse_resend_selection(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("all")
        || t.starts_with('@')
        || t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | '-' | ' '))
    {
        Ok(t.to_string())
    } else {
        Err(format!(
            "\"{s}\" is not a selection of rows: give row numbers (4,7,10-12) or @FILE; to send \
             every in-doubt row again, put --resend-in-doubt after the sheet (or write \
             --resend-in-doubt=all)"
        ))
    }
}

pub(super) fn parse_delimiter(s: &str) -> Result<u8, String> {
    match s {
        "," | "comma" => Ok(b','),
        ";" | "semicolon" => Ok(b';'),
        "\\t" | "\t" | "tab" => Ok(b'\t'),
        "|" | "pipe" => Ok(b'|'),
        _ => Err("the delimiter must be one of , ; tab |".into()),
    }
}

/// `cake-recon run`.
#[expect(
    clippy::struct_excessive_bools,
    reason = "one field per command-line switch"
)]
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The approval sheet: a CSV exported from Excel, Calc or Google Sheets, or a workbook
    /// (.xlsx, .xlsm, .xls, .ods).
    pub input: PathBuf,

    /// Read options from this TOML file (the command line and environment win).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The CAKE instance, e.g. <https://admin.example-network.com>.
    #[arg(long, env = "CAKE_BASE_URL")]
    pub base_url: Option<String>,
    /// Run against the embedded CAKE emulator instead of a real instance (no network, no key).
    #[arg(long, conflicts_with = "base_url")]
    pub sandbox: bool,
    /// A sandbox emulator already running on loopback (the one `serve --sandbox` started): a
    /// trial like --sandbox, its checkpoint naming the sandbox, not the port.
    #[arg(long, hide = true, value_name = "URL", conflicts_with_all = ["base_url", "sandbox"])]
    pub sandbox_url: Option<String>,
    /// Read the API key from this file (otherwise from the `CAKE_API_KEY` environment variable).
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// CAKE API version: 4, the current one (CAKE's pages mark 1 to 3 deprecated, and every
    /// public client uses 4 or later); 2 for an instance that still serves only it.
    #[arg(long, value_parser = parse_version, default_value = "4")]
    pub api_version: u8,
    /// Transport.
    #[arg(long, value_enum, default_value_t = Transport::Get)]
    pub method: Transport,

    /// Results file [default: INPUT with .results.csv in place of .csv].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Checkpoint file [default: the results path + .ckpt].
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,

    /// Requests per second (0 = unlimited, for local benchmarks only).
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Attempts per row before it is given up.
    #[arg(long, default_value_t = 5)]
    pub max_attempts: u32,
    /// First retry's backoff ceiling, in milliseconds (doubles each attempt, full jitter).
    #[arg(long, default_value_t = 250, value_name = "MS")]
    pub retry_base_ms: u64,
    /// Largest backoff between attempts, in milliseconds.
    #[arg(long, default_value_t = 30_000, value_name = "MS")]
    pub retry_cap_ms: u64,
    /// Per-request timeout, in seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub timeout: f64,

    /// A value for a CAKE field the sheet has no column for (repeatable), e.g.
    /// --set `disposition_type=approved`. A sheet without offers sends each conversion's own,
    /// read from CAKE in the window (--since/--until); --set `offer_id=N` gives one for every
    /// row, and only --set `offer_id=0` sends 0.
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = parse_set)]
    pub sets: Vec<(String, String)>,
    /// Map a sheet header to a CAKE field (repeatable), e.g. --map "Approved Revenue=received";
    /// --map "HEADER=ignore" sets a column aside.
    #[arg(long = "map", value_name = "HEADER=FIELD", value_parser = parse_map)]
    pub maps: Vec<(String, String)>,
    /// What the cells of a column stand for (repeatable), e.g. --values
    /// "Approved?=Yes:approved,No:rejected"; a column of decisions with no field of its own
    /// becomes the disposition.
    #[arg(long = "values", value_name = "HEADER=CELL:VALUE,…")]
    pub values: Vec<crate::sheet::columns::ValueMap>,

    /// Force the sheet's encoding (utf-8, utf-16le, utf-16be, windows-1252).
    #[arg(long)]
    pub encoding: Option<String>,
    /// Force the delimiter (, ; tab |) instead of detecting it.
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Amounts use a decimal comma (1.234,56) [default: decided by the sheet's amounts].
    #[arg(long, conflicts_with = "decimal_point")]
    pub decimal_comma: bool,
    /// Amounts use a decimal point (1,234.56) [default: decided by the sheet's amounts].
    #[arg(long)]
    pub decimal_point: bool,
    /// The workbook sheet to read (.xlsx, .xls, .ods) [default: the first].
    #[arg(long, value_name = "NAME")]
    pub sheet: Option<String>,
    /// The most cells a workbook sheet may span (rows × columns), measured before it is read:
    /// a stray cell far from the data, or a crafted file, would otherwise exhaust memory.
    #[arg(long, value_name = "N", default_value_t = crate::sheet::limits::DEFAULT_CELLS)]
    pub max_cells: u64,
    /// The most a workbook may unpack to, in MB, measured before it is read (a zip bomb).
    #[arg(long, value_name = "MB", default_value_t = crate::sheet::limits::DEFAULT_UNPACKED_MB)]
    pub max_unpacked_mb: u64,
    /// The spreadsheet row that holds the column names [default: the first row that reads as
    /// a header, below any titles and blank lines].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub header_row: Option<u64>,
    /// Order of day and month in slashed dates [default: decided by a date with a day above
    /// 12; month first when none does, unless the amounts are European: then this is asked for].
    #[arg(long, value_enum)]
    pub date_order: Option<DateOrder>,

    /// The first CAKE-local day of the window CAKE is read in (inclusive): for --read-back, for
    /// the offers of a sheet that gives none, for the snapshot of additive rows [default: from
    /// the sheet's conversion date column, padded by a day].
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day, requires = "until")]
    pub since: Option<chrono::NaiveDate>,
    /// Reading back: the last CAKE-local day of the window (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_day, requires = "since")]
    pub until: Option<chrono::NaiveDate>,
    /// Read CAKE's values before sending (rows already right end `unchanged`, unsent; in-doubt
    /// rows are settled), write an undo sheet, and verify what was sent afterwards. (To see how
    /// a sheet stands against CAKE without sending, use `cake-recon check`.)
    #[arg(long, conflicts_with = "dry_run")]
    pub read_back: bool,
    /// With --read-back: the undo sheet [default: INPUT.undo.csv].
    #[arg(long, value_name = "PATH", requires = "read_back")]
    pub undo: Option<PathBuf>,
    /// Reading back: the reports.asmx/EventConversions version (15 to 18 share one shape).
    #[arg(long, default_value_t = 17, value_parser = clap::value_parser!(u8).range(15..=18))]
    pub reports_version: u8,

    /// Validate, write the results file with `would_update/invalid`, print totals and example
    /// requests; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send the valid rows even when some rows are invalid.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Let a row set a payout or revenue below zero (a deduction is an addition, always
    /// allowed).
    #[arg(long)]
    pub allow_negative: bool,
    /// Send although a total line in the sheet does not match the sum of the rows above it.
    #[arg(long)]
    pub accept_total_mismatch: bool,
    /// Rows hidden or filtered out in a workbook: send them, or skip them [default: listed,
    /// and a run stops before sending until this is given].
    #[arg(long, value_enum, value_name = "send|skip")]
    pub hidden_rows: Option<crate::sheet::shown::HiddenRows>,
    /// Amounts whose workbook cell shows fewer decimals than it holds ($1,234.57 for
    /// 1234.565): send what the cell shows, or what it holds [default: listed, and a run stops
    /// before sending until this is given].
    #[arg(long, value_enum, value_name = "as-shown|as-stored")]
    pub amounts: Option<crate::sheet::shown::AmountsAs>,
    /// Send again additive rows an earlier run left `in_doubt` (check them in CAKE first):
    /// alone, every one; `--resend-in-doubt 4,7,10-12`, the rows with those numbers (as
    /// `cake-recon status` lists them); `--resend-in-doubt @FILE`, the rows naming the
    /// conversions in FILE (see --resend-in-doubt-file).
    #[arg(
        long,
        value_name = "ROWS|@FILE",
        num_args = 0..=1,
        default_missing_value = "all",
        value_parser = parse_resend_selection
    )]
    pub resend_in_doubt: Option<String>,
    /// Send again the in-doubt rows naming the conversions in FILE, one per line: `7` (a
    /// conversion id), or `conversion_id 7`, `request_session_id 12`, `transaction_id T7`.
    #[arg(long, value_name = "FILE", conflicts_with = "resend_in_doubt")]
    pub resend_in_doubt_file: Option<PathBuf>,
    /// Discard an existing checkpoint for this output and start over (refused while additive
    /// rows were applied or may have been; see --restart-resend-additive).
    #[arg(long)]
    pub restart: bool,
    /// With --restart: send again the additive rows an earlier run applied or may have applied
    /// — their payout and revenue are ADDED A SECOND TIME.
    #[arg(long, requires = "restart")]
    pub restart_resend_additive: bool,
    /// The sheet is an edited version of the one the checkpoint was made for, even though most
    /// of that sheet's rows are gone from it (without this, such a sheet is taken for a new one
    /// and refused).
    #[arg(long)]
    pub edited_sheet: bool,
    /// Allow http:// to a host that is not loopback.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// The journal of every update sent to each CAKE instance, shared by every job on it (give
    /// one path to the people and cron jobs that serve one network) [default:
    /// `$CAKE_RECON_JOURNAL` when set and not empty, else
    /// $XDG_DATA_HOME/cake-recon/journal.sqlite, else ~/.local/share/cake-recon/journal.sqlite].
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// How far back the journal is searched for the same addition, in days.
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub journal_days: u32,
    /// Send this sheet although the journal shows these very bytes were applied to this CAKE
    /// under another name or path (a copy, a re-download, a link).
    #[arg(long)]
    pub same_sheet_again: bool,
    /// Send additive rows although the journal shows the same addition to the same conversion
    /// applied, or possibly applied, by another job — their amounts are ADDED AGAIN.
    #[arg(long)]
    pub same_additions_again: bool,
    /// Reading back settles an unknown outcome as "not applied" (and sends it again) only once
    /// its request left this long ago, in seconds: CAKE may finish a request long after the
    /// client gave up (ASP.NET's execution timeout, SQL command timeouts, IIS queueing).
    #[arg(long, default_value_t = 600, value_name = "SECS")]
    pub settle_after: u64,

    /// Also write how the command ended as JSON to PATH (0600, replaced whole): for a dry run
    /// everything it found (columns, totals, invalid rows, what a run would meet), for a run
    /// its exit code and why it stopped. For scripts and the screen: never parse the text.
    #[arg(long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,
    /// Refuse to use more than this much memory, in MB (an address-space limit set on this
    /// process before the sheet is read): a sheet that would need more ends the command instead
    /// of the machine's memory. The screen reads every upload this way.
    #[arg(long, value_name = "MB", value_parser = clap::value_parser!(u64).range(64..=1_048_576))]
    pub max_memory_mb: Option<u64>,
    /// With --dry-run and --summary-json: read only the sheet's columns (the screen asks this
    /// when its choices change how the sheet is read).
    #[arg(long, hide = true, requires_all = ["dry_run", "summary_json"])]
    pub columns_only: bool,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Only errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// More detail (-vv for debug).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// `cake-recon mock-server`.
#[derive(Debug, Args, Clone)]
pub(crate) struct MockArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Make conversions with ids 1..=N.
    #[arg(long, default_value_t = 1000)]
    pub conversions: u32,
    /// Load conversions from a CSV (`conversion_id,offer_id,request_session_id,transaction_id`,
    /// `payout,revenue,sale_amount,conversion_date`) instead.
    #[arg(long, value_name = "CSV")]
    pub ledger: Option<PathBuf>,
    /// Read the accepted API key from this file (otherwise `CAKE_API_KEY`; with neither, the key
    /// is "sandbox").
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Apply version 4 calls with `offer_id=0`. By default they are refused (success=false), as
    /// an instance that checks the offer ("must be an existing offer ID") refuses them.
    #[arg(long)]
    pub accept_offer_0: bool,
    #[command(flatten)]
    pub faults: super::fault_args::FaultArgs,
}

/// `cake-recon serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on. Off loopback it needs --token, and a TLS proxy in front.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The CAKE instance runs go to, e.g. <https://admin.example-network.com>.
    #[arg(long, env = "CAKE_BASE_URL")]
    pub base_url: Option<String>,
    /// Send to the embedded CAKE emulator instead (a trial: nothing leaves this machine).
    #[arg(long, conflicts_with = "base_url")]
    pub sandbox: bool,
    /// Read the API key from this file (otherwise `CAKE_API_KEY`). It stays in this process and
    /// the runs it starts: no page ever holds it.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// Allow plain http to a non-loopback --base-url (the key would travel unencrypted).
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// The folder that holds the uploaded sheets, their results, checkpoints and history.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The access token every request must carry [default: a random one, printed at start].
    /// Required to listen off loopback.
    #[arg(long, env = "CAKE_RECON_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Largest sheet the page accepts, in MB.
    #[arg(long, default_value_t = 50)]
    pub max_upload_mb: u64,
    /// Requests per second of the runs started from the page.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// How long Stop lets a run finish its requests in flight before it is killed, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub stop_grace_secs: u64,
    /// Uploads older than this many days are removed when the server starts (an upload whose
    /// run finished every row is removed then).
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub keep_uploads_days: u64,
    /// The memory a preview of an upload may take, in MB: each upload is read by a dry run in
    /// a process of its own under this limit, so no sheet can take the server down.
    #[arg(long, value_name = "MB", default_value_t = 4096)]
    pub preview_memory_mb: u64,
    /// How long a preview of an upload may take, in seconds (then it is stopped and the page
    /// says the sheet is too large).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub preview_timeout_secs: u64,
    /// The people who may use the screen, each signing in with their own password (a TOML
    /// file of [[user]] name, role = "preparer" or "approver", `password_hash` from `cake-recon
    /// hash-password`). Without it, the printed link's token opens the screen.
    #[arg(long, value_name = "USERS.toml")]
    pub users: Option<PathBuf>,
    /// With --users: a sheet whose money (Σ payout set and added, and Σ received, each
    /// counted as its size) is above AMOUNT is applied only after an approver other than its
    /// preparer approved exactly that sheet, with exactly those choices.
    #[arg(long, value_name = "AMOUNT", default_value = "0", requires = "users")]
    pub approval_over: rust_decimal::Decimal,
}

impl RunArgs {
    /// The decimal mark the flags give (`None`: the sheet's amounts decide).
    pub(crate) fn decimal(&self) -> Option<DecimalStyle> {
        if self.decimal_comma {
            Some(DecimalStyle::Comma)
        } else if self.decimal_point {
            Some(DecimalStyle::Point)
        } else {
            None
        }
    }
}

/// `--since`/`--until`: a calendar day, `YYYY-MM-DD`.
pub(crate) fn parse_day(s: &str) -> Result<chrono::NaiveDate, String> {
    let day = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| format!("\"{s}\" is not a day such as 2026-09-30 (YYYY-MM-DD)"))?;
    // The days CAKE's dates (SQL Server `datetime`) can hold, the day after included.
    let (first, last) = (
        chrono::NaiveDate::from_ymd_opt(1753, 1, 1).unwrap_or(chrono::NaiveDate::MIN),
        chrono::NaiveDate::from_ymd_opt(9999, 12, 30).unwrap_or(chrono::NaiveDate::MAX),
    );
    if day < first || day > last {
        return Err(format!(
            "{s} is outside the days CAKE's dates hold: give a day from {first} to {last}"
        ));
    }
    Ok(day)
}

/// Whether `run`'s flag `--name` takes a value (`None`: `run` has no such flag). The screen
/// puts messages written for the command line into its own words, and must know how much of
/// the message a flag spans.
#[must_use]
pub(crate) fn run_flag_takes_value(name: &str) -> Option<bool> {
    use clap::Args as _;
    let cmd = RunArgs::augment_args(clap::Command::new("run"));
    cmd.get_arguments()
        .find(|a| a.get_long() == Some(name))
        .map(|a| a.get_action().takes_values())
}
