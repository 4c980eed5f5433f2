//! `hypervisor.*` rules: facts about running hypervisor processes (collected on the live
//! root by hvguard-update's process collector).

use crate::catalogue::Check;
use crate::emit::Hit;
use crate::{Emitter, Rule, RuleMeta};
use hvguard_core::{Location, Probe, Severity, Snapshot, VmmProcess};

pub(crate) static RULES: &[Rule] = &[Rule {
    meta: RuleMeta {
        id: "hypervisor.stale-process",
        title: "A running VMM still uses a hypervisor binary, library or guest file that was replaced on disk",
        severity: Severity::High,
        fires_when: "(live root) a running QEMU, Firecracker, Cloud Hypervisor or virtiofsd runs a binary that was deleted or replaced on disk, maps a deleted or replaced shared library, or holds a deleted guest kernel, initrd or image open; one finding per process",
        remediation: "Restart the sandbox (drain the node and delete the pod, or `kubectl delete pod` for that pod) so that its VM starts from the updated binary; until then the VM keeps every vulnerability the update fixed",
        references: &[
            "https://github.com/kata-containers/kata-containers/blob/main/docs/Upgrading.md",
            "https://man7.org/linux/man-pages/man5/proc_pid_exe.5.html",
            "https://github.com/liske/needrestart",
        ],
    },
    check: Check::Snapshot(stale_process),
}];

fn what_is_stale(p: &VmmProcess) -> Vec<String> {
    let mut out = Vec::new();
    if p.exe_deleted {
        out.push(format!("its binary {} was deleted", p.exe.display()));
    } else if p.exe_replaced {
        out.push(format!(
            "its binary {} was replaced by another file",
            p.exe.display()
        ));
    }
    if !p.stale_libraries.is_empty() {
        let libs: Vec<String> = p
            .stale_libraries
            .iter()
            .map(|l| l.display().to_string())
            .collect();
        out.push(format!(
            "it maps deleted or replaced libraries ({})",
            libs.join(", ")
        ));
    }
    if !p.deleted_guest_files.is_empty() {
        let files: Vec<String> = p
            .deleted_guest_files
            .iter()
            .map(|l| l.display().to_string())
            .collect();
        out.push(format!(
            "it holds deleted guest files open ({})",
            files.join(", ")
        ));
    }
    out
}

fn stale_process(meta: &RuleMeta, snapshot: &Snapshot, out: &mut Emitter) {
    let procs = match &snapshot.vmm_processes {
        Probe::Found { value } => value,
        other => {
            let reason = other
                .unknown_reason()
                .unwrap_or_else(|| "running processes were not collected".into());
            out.unknown(meta, reason);
            return;
        }
    };
    for p in procs.iter().filter(|p| p.is_stale()) {
        let sandbox = p.sandbox.as_deref().unwrap_or("unknown sandbox");
        let running = p.running_version.as_deref().unwrap_or("unknown version");
        let disk = match (&p.disk_version, p.exe_deleted && !p.exe_replaced) {
            (Some(v), _) => v.clone(),
            (None, true) => "no file at that path".into(),
            (None, false) => "unknown".into(),
        };
        let message = format!(
            "{} process {} ({sandbox}) keeps running what the host no longer has: {}. It runs {running}; on disk now: {disk}. The VM keeps the old code until its sandbox restarts.",
            p.kind.as_str(),
            p.pid,
            what_is_stale(p).join("; ")
        );
        let evidence = format!(
            "pid {} sandbox {sandbox} exe {}{}; running {running}; on disk {disk}",
            p.pid,
            p.exe.display(),
            if p.exe_deleted { " (deleted)" } else { "" }
        );
        out.finding(
            meta,
            Hit::new(meta.severity, message, evidence).at(Location {
                path: p.exe.clone(),
                line: None,
                key: Some(format!("pid {}", p.pid)),
            }),
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use hvguard_core::HypervisorKind;

    fn process(pid: u32) -> VmmProcess {
        VmmProcess {
            pid,
            kind: HypervisorKind::Qemu,
            exe: "/usr/bin/qemu-system-x86_64".into(),
            exe_deleted: false,
            exe_replaced: false,
            sandbox: Some("sandbox-abc".into()),
            running_version: Some(
                "QEMU emulator version 7.2.18 (Debian 1:7.2+dfsg-7+deb12u15)".into(),
            ),
            disk_version: Some(
                "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)".into(),
            ),
            stale_libraries: Vec::new(),
            deleted_guest_files: Vec::new(),
        }
    }

    fn run(probe: Probe<Vec<VmmProcess>>) -> Emitter {
        let mut snapshot: Snapshot =
            serde_json::from_str(include_str!("../tests/fixtures/minimal-snapshot.json")).unwrap();
        snapshot.vmm_processes = probe;
        let mut out = Emitter::default();
        stale_process(&RULES[0].meta, &snapshot, &mut out);
        out
    }

    #[test]
    fn one_finding_per_stale_process_naming_pid_sandbox_and_versions() {
        let fresh = process(10);
        let mut deleted = process(11);
        deleted.exe_deleted = true;
        let mut lib = process(12);
        lib.stale_libraries = vec!["/usr/lib/x86_64-linux-gnu/libslirp.so.0".into()];
        let out = run(Probe::found(vec![fresh, deleted, lib]));
        assert_eq!(out.findings.len(), 2);
        let f = &out.findings[0];
        assert_eq!(f.rule.as_str(), "hypervisor.stale-process");
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.evidence.contains("pid 11") && f.evidence.contains("sandbox-abc"),
            "{}",
            f.evidence
        );
        assert!(
            f.evidence.contains("7.2.18") && f.evidence.contains("7.2.22"),
            "{}",
            f.evidence
        );
        assert!(
            out.findings[1].message.contains("libslirp"),
            "{}",
            out.findings[1].message
        );
        assert!(out.unknown.is_empty());
    }

    #[test]
    fn unknown_when_not_collected() {
        let out = run(Probe::unsupported("not a live root"));
        assert!(out.findings.is_empty());
        assert_eq!(out.unknown.len(), 1);
        assert!(out.unknown[0].reason.contains("live root"));
    }
}
