//! `hvguard fleet report`: many nodes' reports and update results, folded into one page an
//! operator can read in a minute.
//!
//! The node is the unit (DESIGN.md §10): this crate only reads what nodes wrote
//! (`hvguard.report/v1`, `hvguard.update-result/v1`, `hvguard.update-status/v1`), in any
//! number of files and folders, and never needs a server. Reading is streaming: one thread
//! walks the folders, worker threads read and parse files into small per-node entries, and
//! the calling thread folds those into the aggregates, so memory holds the aggregates and a
//! few files in flight, never the reports themselves.

pub mod aggregate;
pub mod input;
pub mod model;
pub mod render;

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

pub use aggregate::Aggregator;
pub use input::{parse_document, Document, DocumentError, Problem, MAX_FILE_BYTES};
pub use model::{FleetReport, FLEET_SCHEMA};

/// How to read.
#[derive(Debug, Clone)]
pub struct Options {
    /// The time reports' ages are measured against.
    pub now: jiff::Timestamp,
    /// A node's latest report older than this is named as outdated.
    pub max_age_hours: u64,
    /// Threads reading and parsing files (at least 1).
    pub jobs: usize,
    /// Files larger than this are refused.
    pub max_file_bytes: u64,
}

impl Options {
    /// Now, 24 hours, one reader per CPU.
    pub fn new(now: jiff::Timestamp) -> Options {
        Options {
            now,
            max_age_hours: 24,
            jobs: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            max_file_bytes: MAX_FILE_BYTES,
        }
    }
}

/// One message to the folding thread.
enum Item {
    Read(PathBuf, Result<Document, String>),
    Problem(Problem),
}

/// Files and results travel in batches: one channel hand-over per file would cost more
/// than parsing a small report.
const BATCH: usize = 256;

/// Reads every file under `paths` and folds them into the fleet report.
pub fn aggregate(paths: &[PathBuf], options: &Options) -> FleetReport {
    let jobs = options.jobs.max(1);
    // Bounds keep memory flat however many files there are (the walker waits for the
    // readers, the readers for the folder), yet let the walker run far ahead: on a busy
    // machine every wait for another thread costs a scheduling round.
    let (path_tx, path_rx) = sync_channel::<Vec<PathBuf>>(64);
    let (item_tx, item_rx) = sync_channel::<Vec<Item>>(jobs * 4);
    let path_rx = Mutex::new(path_rx);
    let mut aggregator = Aggregator::new(options.now, options.max_age_hours);
    std::thread::scope(|scope| {
        let walker_items = item_tx.clone();
        scope.spawn(move || {
            let mut files = Vec::with_capacity(BATCH);
            // A closed channel means the folding thread is gone; nothing left to do.
            input::walk::walk(paths, &mut |found| match found {
                input::walk::Found::File(path) => {
                    files.push(path);
                    if files.len() == BATCH {
                        let _ =
                            path_tx.send(std::mem::replace(&mut files, Vec::with_capacity(BATCH)));
                    }
                }
                input::walk::Found::Problem(p) => {
                    let _ = walker_items.send(vec![Item::Problem(p)]);
                }
            });
            if !files.is_empty() {
                let _ = path_tx.send(files);
            }
        });
        for _ in 0..jobs {
            let items = item_tx.clone();
            let paths = &path_rx;
            let limit = options.max_file_bytes;
            scope.spawn(move || read_files(paths, &items, limit));
        }
        drop(item_tx);
        for batch in item_rx {
            for item in batch {
                match item {
                    Item::Read(path, document) => aggregator.add(path, document),
                    Item::Problem(problem) => aggregator.problem(problem),
                }
            }
        }
    });
    let generated_at = options
        .now
        .round(jiff::Unit::Second)
        .unwrap_or(options.now)
        .to_string();
    aggregator.finish(generated_at)
}

fn read_files(
    paths: &Mutex<Receiver<Vec<PathBuf>>>,
    items: &std::sync::mpsc::SyncSender<Vec<Item>>,
    limit: u64,
) {
    let mut buf = Vec::new();
    loop {
        let next = match paths.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(batch) = next else {
            return;
        };
        let mut out = Vec::with_capacity(batch.len());
        for path in batch {
            let document = input::read_bounded(&path, limit, &mut buf)
                .and_then(|()| parse_document(&buf).map_err(|e| e.to_string()));
            // Large buffers are not kept: one odd file must not pin its size for the run.
            if buf.capacity() > 4 << 20 {
                buf = Vec::new();
            }
            out.push(Item::Read(path, document));
        }
        if items.send(out).is_err() {
            return;
        }
    }
}
