//! collect -> evaluate: the one pipeline every command shares (DESIGN.md §1).

use anyhow::{bail, Context, Result};
use hvguard_core::{HostRoot, Report, ReportHost, Snapshot, SNAPSHOT_SCHEMA};
use hvguard_host::binfacts::{file::BinaryFactsFile, BinaryFactsCache};
use hvguard_host::integrity::cache_file::{self, CacheFile};
use hvguard_host::integrity::digest::DigestCache;
use std::path::{Path, PathBuf};

/// A Snapshot file bigger than this is not one `hvguard collect` wrote.
const SNAPSHOT_LIMIT: u64 = 64 << 20;

pub fn open_root(dir: &Path) -> Result<HostRoot> {
    Ok(HostRoot::new(dir)?)
}

/// A Snapshot and the configuration files that could not be used while collecting it.
#[derive(Debug)]
pub struct Collected {
    pub snapshot: Snapshot,
    /// `path:line:col: message` for every Kata/containerd file that exists but is broken.
    pub errors: Vec<String>,
}

/// Collects everything: Kata/containerd configuration first, so that the binaries the
/// configurations name join the hypervisor inventory, then the host facts. The hypervisor
/// layer's digests and the facts read out of its binaries come from this root's cache files
/// where they are still valid (docs/drift-and-integrity.md, "The digest cache" and "The
/// binary facts cache").
pub fn collect(root: &HostRoot) -> Collected {
    let file = cache_file::cache_dir().map(|dir| CacheFile::for_root(&dir, root));
    let cache = DigestCache::new(file.as_ref().map(CacheFile::load).unwrap_or_default());
    let (collected, cache) = collect_with_digests(root, cache);
    if let Some(file) = file {
        // Only a cache, like the store's: a folder that cannot be written costs the next
        // collection one hashing, and is not worth a warning on every scan.
        let _ = file.save(&cache);
    }
    collected
}

/// [`collect`] with the digests `cache` holds (the store's) instead of the digest cache
/// file's; the binary facts still come from (and go to) this root's facts cache file.
/// Returns the cache with the digests computed meanwhile.
pub fn collect_with_digests(root: &HostRoot, cache: DigestCache) -> (Collected, DigestCache) {
    let file = cache_file::cache_dir().map(|dir| BinaryFactsFile::for_root(&dir, root));
    let facts = BinaryFactsCache::new(file.as_ref().map(BinaryFactsFile::load).unwrap_or_default());
    let (collected, cache, facts) = collect_cached(root, cache, facts);
    if let Some(file) = file {
        // As for digests: a cache that cannot be saved only costs the next scan a reading.
        let _ = file.save(&facts);
    }
    (collected, cache)
}

/// [`collect`] with no cache at all: every binary is read and hashed, nothing is saved.
pub fn collect_uncached(root: &HostRoot) -> Collected {
    collect_cached(root, DigestCache::default(), BinaryFactsCache::default()).0
}

/// [`collect`] with the digests and binary facts the caches hold; returns the caches with
/// what was computed and read meanwhile.
pub fn collect_cached(
    root: &HostRoot,
    cache: DigestCache,
    facts: BinaryFactsCache,
) -> (Collected, DigestCache, BinaryFactsCache) {
    let env = hvguard_kata::DiscoveryEnv {
        // The shims read KATA_CONF_FILE from their own environment; ours only says something
        // about them on the live host.
        kata_conf_file: if root.is_live() {
            std::env::var_os("KATA_CONF_FILE").map(PathBuf::from)
        } else {
            None
        },
    };
    let discovery = hvguard_kata::discover(root, &env);
    let options = hvguard_host::CollectOptions {
        extra_binaries: hvguard_kata::kata_binary_paths(&discovery.configs),
        digest_cache: std::cell::RefCell::new(cache),
        binary_facts: std::cell::RefCell::new(facts),
        extra_kinds: hvguard_kata::kata_binary_kinds(&discovery.configs),
        ..Default::default()
    };
    let mut snapshot = hvguard_host::collect(root, &options);
    let cache = options.digest_cache.into_inner();
    let facts = options.binary_facts.into_inner();
    snapshot.kata = discovery.configs;
    // Each containerd release family reads the files its own way; keep the readings of the
    // containerd installed (all of them when its version is unknown).
    let in_play = hvguard_core::readings_in_play(&snapshot.containerd_binaries);
    snapshot.containerd = hvguard_kata::narrow_runtimes(discovery.containerd, &in_play);
    snapshot.warnings.extend(discovery.warnings);
    if root.is_live() {
        snapshot.vmm_processes = hvguard_update::processes::collect(root);
    }
    snapshot.warnings.extend(hvguard_kata::notes_for(
        &discovery.containerd_notes,
        &in_play,
    ));
    link_hypervisors_to_configs(&mut snapshot);
    let collected = Collected {
        snapshot,
        errors: discovery.errors.iter().map(|e| e.to_string()).collect(),
    };
    (collected, cache, facts)
}

/// Fails (exit 2) when collecting read nothing at all: a root that is empty, not a host
/// root, or refused to this user would otherwise give "No findings", which reads like a clean
/// host.
pub fn ensure_something_read(snapshot: &Snapshot) -> Result<()> {
    let (mut read, mut denied) = (0usize, 0usize);
    let mut tally = |found: bool, refused: bool| {
        read += usize::from(found);
        denied += usize::from(refused);
    };
    macro_rules! probes {
        ($($p:expr),* $(,)?) => {
            $( tally($p.value().is_some(), matches!($p, hvguard_core::Probe::Denied { .. })); )*
        };
    }
    let h = &snapshot.host;
    probes!(
        h.hostname,
        h.os,
        h.kernel_release,
        h.cpu,
        h.kvm.device,
        h.kvm.modules,
        h.iommu.groups,
        h.iommu.dmar_table,
        h.iommu.ivrs_table,
        h.firmware.boot_mode,
        h.smt_control,
        h.cpu_vulnerabilities,
        h.cmdline,
        h.ksm_run,
        h.swaps,
        h.unprivileged_bpf_disabled,
        h.lsm,
        snapshot.packages,
        snapshot.kata_install,
    );
    read += snapshot.hypervisors.len() + snapshot.kata.len() + snapshot.containerd.len();
    if read > 0 {
        return Ok(());
    }
    let who = match snapshot.collector_uid {
        Some(uid) if uid != 0 => format!(", as uid {uid}"),
        _ => String::new(),
    };
    bail!(
        "{}: nothing could be read under this root ({denied} facts refused: permission denied{who}; the rest absent): is it a host root, and may this user read it?",
        snapshot.root.display()
    )
}

/// Fills `Hypervisor::used_by` with the configurations that name each binary.
pub fn link_hypervisors_to_configs(snapshot: &mut Snapshot) {
    for hypervisor in &mut snapshot.hypervisors {
        let mut users: Vec<PathBuf> = snapshot
            .kata
            .iter()
            .filter(|config| {
                hvguard_kata::kata_binary_paths(std::slice::from_ref(*config))
                    .iter()
                    .any(|p| p == &hypervisor.path)
            })
            .map(|config| config.main.clone())
            .collect();
        users.sort();
        users.dedup();
        hypervisor.used_by = users;
    }
}

pub fn read_snapshot(path: &Path) -> Result<Snapshot> {
    // Regular files only: a FIFO given as --snapshot would hang the scan.
    let bytes = match hvguard_core::operator_file::read_regular(path, SNAPSHOT_LIMIT) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => bail!(
            "{}: snapshot is larger than {SNAPSHOT_LIMIT} bytes",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    let snapshot: Snapshot = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a hvguard snapshot", path.display()))?;
    if snapshot.schema != SNAPSHOT_SCHEMA {
        bail!(
            "{}: unsupported snapshot schema `{}` (this hvguard reads `{SNAPSHOT_SCHEMA}`)",
            path.display(),
            snapshot.schema
        );
    }
    Ok(snapshot)
}

/// What the advisory step matches against: loaded once, before evaluation.
#[derive(Debug)]
pub struct AdvisoryInput {
    pub advisories: Vec<hvguard_advisory::Advisory>,
    pub policy: hvguard_advisory::policy::Policy,
    /// The day acceptances are judged against.
    pub today: jiff::civil::Date,
}

impl AdvisoryInput {
    /// The store at `db` (or the default location) when it holds advisories, else the
    /// snapshot shipped in the binary; the policy at `policy` (or the default location).
    pub fn load(db: Option<&Path>, policy: Option<&Path>) -> Result<AdvisoryInput> {
        let store = hvguard_advisory::store::store_path(db)?;
        let (advisories, _origin) = hvguard_advisory::store::load_advisories(&store)?;
        Ok(AdvisoryInput {
            advisories,
            policy: hvguard_advisory::policy::Policy::resolve(policy)?,
            today: jiff::Zoned::now().date(),
        })
    }
}

/// Evaluates every rule and matches every advisory over the Snapshot: pure, no I/O.
pub fn evaluate(snapshot: &Snapshot, advisories: &AdvisoryInput, generated_at: String) -> Report {
    let evaluation = hvguard_audit::evaluate(snapshot);
    let matched = hvguard_advisory::matching::match_snapshot(
        snapshot,
        &advisories.advisories,
        &advisories.policy,
        advisories.today,
    );
    let mut unknown = evaluation.unknown;
    unknown.extend(matched.unknown_checks());
    unknown.extend(matched.unknown_facts.iter().filter_map(|reason| {
        Some(hvguard_core::UnknownCheck::new(
            hvguard_core::RuleId::new(hvguard_advisory::matching::RULE_ID).ok()?,
            reason.clone(),
        ))
    }));
    let mut findings = evaluation.findings;
    findings.extend(matched.findings);
    Report::new(
        generated_at,
        report_host(snapshot),
        findings,
        unknown,
        snapshot.hypervisors.clone(),
    )
}

fn report_host(snapshot: &Snapshot) -> ReportHost {
    let host = &snapshot.host;
    ReportHost {
        hostname: host.hostname.value().cloned(),
        root: snapshot.root.display().to_string(),
        kernel: host.kernel_release.value().cloned(),
        os: host.os.value().map(os_name),
    }
}

fn os_name(os: &hvguard_core::OsRelease) -> String {
    os.pretty_name
        .clone()
        .unwrap_or_else(|| format!("{} {}", os.id, os.version_id.clone().unwrap_or_default()))
}

/// The running host's block for documents other than the report (`update` results and
/// status), so that `hvguard fleet report` can tell which node wrote them.
pub fn live_host() -> ReportHost {
    let root = HostRoot::live();
    ReportHost {
        hostname: hvguard_host::kernel::probe_hostname(&root).value().cloned(),
        root: "/".to_owned(),
        kernel: hvguard_host::kernel::probe_kernel_release(&root)
            .value()
            .cloned(),
        os: hvguard_host::kernel::probe_os_release(&root)
            .value()
            .map(os_name),
    }
}

/// When this process started (set first thing in `main`): `db update` removes only the
/// scratch folders of runs older than this one.
static PROCESS_STARTED: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();

pub fn mark_process_start() {
    let _ = PROCESS_STARTED.set(std::time::SystemTime::now());
}

pub fn process_started() -> std::time::SystemTime {
    *PROCESS_STARTED.get_or_init(std::time::SystemTime::now)
}

pub fn now() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

/// Prints collection warnings (skipped drop-ins, dangling ConfigPaths...) on stderr. They
/// name files of the scanned system (or come from a snapshot file): escaped at the edge.
pub fn warn(warnings: &[String]) {
    for warning in warnings {
        crate::output::warn(warning);
    }
}

/// Every broken input on stderr, one line each, then an error (exit 2) naming how many.
pub fn fail_on_errors(errors: &[String]) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    for error in errors {
        crate::output::error(error);
    }
    bail!(
        "{} configuration file(s) could not be loaded (see above); the report covers the rest",
        errors.len()
    )
}

/// A Snapshot holding only configurations (and the binaries they name, stat'ed on the live
/// host for `kata.binary-writable`): host facts are marked as not collected.
pub fn config_snapshot(configs: Vec<hvguard_core::KataConfig>) -> Snapshot {
    let root = HostRoot::live();
    let options = hvguard_host::CollectOptions {
        extra_binaries: hvguard_kata::kata_binary_paths(&configs),
        extra_kinds: hvguard_kata::kata_binary_kinds(&configs),
        ..Default::default()
    };
    let mut snapshot = hvguard_host::collect_inventory_only(&root, &options);
    snapshot.kata = configs;
    link_hypervisors_to_configs(&mut snapshot);
    snapshot
}

/// Like [`evaluate`], keeping only the configuration rules (every area but `host`).
pub fn evaluate_configs(snapshot: &Snapshot, generated_at: String) -> Report {
    let evaluation = hvguard_audit::evaluate(snapshot);
    let is_config_rule = |rule: &hvguard_core::RuleId| rule.area() != "host";
    Report::new(
        generated_at,
        report_host(snapshot),
        evaluation
            .findings
            .into_iter()
            .filter(|f| is_config_rule(&f.rule))
            .collect(),
        evaluation
            .unknown
            .into_iter()
            .filter(|u| is_config_rule(&u.rule))
            .collect(),
        snapshot.hypervisors.clone(),
    )
}
