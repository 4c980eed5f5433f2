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

/// Reads every file under `paths` and folds them into the fleet report.
pub fn aggregate(paths: &[PathBuf], options: &Options) -> FleetReport {
    let jobs = options.jobs.max(1);
    // Small bounds keep memory flat however many files there are: the walker waits for the
    // readers, the readers wait for the folder.
    let (path_tx, path_rx) = sync_channel::<PathBuf>(jobs * 64);
    let (item_tx, item_rx) = sync_channel::<Item>(jobs * 64);
    let path_rx = Mutex::new(path_rx);
    let mut aggregator = Aggregator::new(options.now, options.max_age_hours);
    std::thread::scope(|scope| {
        let walker_items = item_tx.clone();
        scope.spawn(move || {
            input::walk::walk(paths, &mut |found| {
                // A closed channel means the folder thread is gone; nothing left to do.
                let _ = match found {
                    input::walk::Found::File(path) => path_tx.send(path).map_err(drop),
                    input::walk::Found::Problem(p) => {
                        walker_items.send(Item::Problem(p)).map_err(drop)
                    }
                };
            });
        });
        for _ in 0..jobs {
            let items = item_tx.clone();
            let paths = &path_rx;
            let limit = options.max_file_bytes;
            scope.spawn(move || read_files(paths, &items, limit));
        }
        drop(item_tx);
        for item in item_rx {
            match item {
                Item::Read(path, document) => aggregator.add(path, document),
                Item::Problem(problem) => aggregator.problem(problem),
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
    paths: &Mutex<Receiver<PathBuf>>,
    items: &std::sync::mpsc::SyncSender<Item>,
    limit: u64,
) {
    let mut buf = Vec::new();
    loop {
        let next = match paths.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(path) = next else {
            return;
        };
        let document = input::read_bounded(&path, limit, &mut buf)
            .and_then(|()| parse_document(&buf).map_err(|e| e.to_string()));
        // Large buffers are not kept: one odd file must not pin its size for the whole run.
        if buf.capacity() > 4 << 20 {
            buf = Vec::new();
        }
        if items.send(Item::Read(path, document)).is_err() {
            return;
        }
    }
}
