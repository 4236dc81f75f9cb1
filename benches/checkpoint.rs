//! What the durable checkpoint costs: outcome commits, and additive rows (intent committed
//! before the request, then the outcome), with concurrent workers sharing group commits.
//!
//! `cargo bench --bench checkpoint`

use cake_recon::internals::{OutcomeRecord, Store, schema};
use cake_recon::update::Status;
use cake_recon::update::{Idempotency, RowIdent};
use divan::{Bencher, counter::ItemsCount};

fn main() {
    divan::main();
}

fn fresh() -> (tempfile::TempDir, Store, std::thread::JoinHandle<()>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.ckpt");
    let conn = schema::create(&path, &[]).expect("create");
    let (store, thread) = Store::start(conn, path).expect("start");
    (dir, store, thread)
}

fn ident(row: u64) -> RowIdent {
    RowIdent {
        key: format!("0|{row}|0|"),
        content: format!("{row:032x}"),
    }
}

fn outcome(row: u64, kind: Idempotency) -> OutcomeRecord {
    OutcomeRecord {
        row,
        ident: ident(row),
        kind,
        status: Status::Updated,
        attempts: 1,
        http_status: Some(200),
        message: "Conversion Updated".into(),
        journal: None,
        left_by_now: false,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Idempotent rows: outcomes only, committed in batches.
#[divan::bench(args = [10_000, 100_000], sample_count = 5)]
fn outcomes(bencher: Bencher, n: u64) {
    let rt = runtime();
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(fresh)
        .bench_values(|(dir, store, thread)| {
            rt.block_on(async {
                for row in 2..n + 2 {
                    store.outcome(outcome(row, Idempotency::Idempotent));
                }
                store.flush().await.expect("flush");
            });
            store.finish("bench");
            thread.join().expect("join");
            drop(dir);
        });
}

/// Additive rows: each waits for its durable intent, then records its outcome; `workers`
/// concurrent rows share each group commit, as the engine's workers do.
#[divan::bench(args = [1, 16, 64], sample_count = 5)]
fn additive(bencher: Bencher, workers: u64) {
    let n = 4_000u64;
    let rt = runtime();
    bencher
        .counter(ItemsCount::new(n))
        .with_inputs(fresh)
        .bench_values(|(dir, store, thread)| {
            rt.block_on(async {
                let mut tasks = tokio::task::JoinSet::new();
                for w in 0..workers {
                    let store = store.clone();
                    tasks.spawn(async move {
                        let mut row = 2 + w;
                        while row < n + 2 {
                            store.intent(row, ident(row)).await.expect("intent");
                            store.outcome(outcome(row, Idempotency::Additive));
                            row += workers;
                        }
                    });
                }
                while tasks.join_next().await.is_some() {}
                store.flush().await.expect("flush");
            });
            store.finish("bench");
            thread.join().expect("join");
            drop(dir);
        });
}
