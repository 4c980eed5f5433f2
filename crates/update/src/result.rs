//! The outcome of `apply`, `rollback` and `drill`: the `hvguard.update-result/v1` contract
//! that the fleet playbook reads (`result` decides whether a node failed).

use serde::{Deserialize, Serialize};

pub const RESULT_SCHEMA: &str = "hvguard.update-result/v1";

/// The outcome, as the playbook reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Updated,
    NothingToDo,
    Refused,
    RolledBack,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Updated => "updated",
            Outcome::NothingToDo => "nothing-to-do",
            Outcome::Refused => "refused",
            Outcome::RolledBack => "rolled-back",
            Outcome::Failed => "failed",
        }
    }
}

/// One package (or the static Kata release) and the versions it moves between.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ComponentChange {
    pub package: String,
    pub from: String,
    pub to: String,
}

/// One stage as run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub ok: bool,
    pub ms: u64,
    pub detail: String,
    /// The stage was deliberately not run (`--skip-smoke`, `--no-rollback`); `ok` is true
    /// only in the sense that it did not stop the transaction.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

/// A running VMM that still uses a binary or library the update replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldBinaryUser {
    pub pid: u32,
    pub kind: String,
    pub exe: String,
    pub sandbox: Option<String>,
    pub running_version: Option<String>,
    pub disk_version: Option<String>,
}

/// `hvguard.update-result/v1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateResult {
    pub schema: String,
    /// `apply`, `rollback`, `drill`.
    pub command: String,
    /// The journal's transaction id (`hvguard update history`), when one was opened.
    pub transaction: Option<String>,
    pub result: Outcome,
    /// `--dry-run`: stages up to the plan ran, nothing was changed.
    #[serde(default)]
    pub dry_run: bool,
    pub components: Vec<ComponentChange>,
    pub stages: Vec<Stage>,
    /// Sandboxes still running the old binary after the change (stage 7).
    #[serde(default)]
    pub running_on_old_binary: Vec<OldBinaryUser>,
    /// What an operator must run by hand after a failed rollback.
    #[serde(default)]
    pub manual_steps: Vec<String>,
    pub generated_at: String,
    /// The node it ran on, in the report's host-block shape: `hvguard fleet report` names
    /// the node by `host.hostname`. Filled by the command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<hvguard_core::ReportHost>,
}

impl UpdateResult {
    pub fn new(command: &str) -> Self {
        let now = jiff::Timestamp::now();
        UpdateResult {
            schema: RESULT_SCHEMA.into(),
            command: command.into(),
            transaction: None,
            result: Outcome::NothingToDo,
            dry_run: false,
            components: Vec::new(),
            stages: Vec::new(),
            running_on_old_binary: Vec::new(),
            manual_steps: Vec::new(),
            generated_at: now.round(jiff::Unit::Second).unwrap_or(now).to_string(),
            host: None,
        }
    }

    /// `apply`: 0 updated or nothing to do, 1 refused or rolled back, 2 failed. For
    /// `rollback` and `drill` a completed rollback is the goal: 0.
    pub fn exit_code(&self) -> u8 {
        match self.result {
            Outcome::Updated | Outcome::NothingToDo => 0,
            Outcome::RolledBack if self.command != "apply" => 0,
            Outcome::Refused | Outcome::RolledBack => 1,
            Outcome::Failed => 2,
        }
    }

    /// The stage that stopped the transaction, if any.
    pub fn failed_stage(&self) -> Option<&Stage> {
        self.stages.iter().find(|s| !s.ok)
    }

    /// Plain text for people.
    pub fn render_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "hvguard update {}: {}{}",
            self.command,
            self.result.as_str(),
            if self.dry_run { " (dry run)" } else { "" }
        );
        if let Some(tx) = &self.transaction {
            let _ = writeln!(out, "transaction {tx}");
        }
        for c in &self.components {
            let _ = writeln!(out, "  {} {} -> {}", c.package, c.from, c.to);
        }
        for s in &self.stages {
            let mark = if s.skipped {
                "skip"
            } else if s.ok {
                " ok "
            } else {
                "FAIL"
            };
            let _ = writeln!(out, "[{mark}] {:<10} {:>6} ms  {}", s.name, s.ms, s.detail);
        }
        if !self.running_on_old_binary.is_empty() {
            let _ = writeln!(
                out,
                "still running the old binary (restart or drain these sandboxes):"
            );
            for p in &self.running_on_old_binary {
                let _ = writeln!(
                    out,
                    "  pid {} {} {} sandbox {} runs {} (on disk: {})",
                    p.pid,
                    p.kind,
                    p.exe,
                    p.sandbox.as_deref().unwrap_or("unknown"),
                    p.running_version.as_deref().unwrap_or("unknown"),
                    p.disk_version.as_deref().unwrap_or("none")
                );
            }
        }
        if !self.manual_steps.is_empty() {
            let _ = writeln!(out, "MANUAL STEPS (the automatic rollback failed):");
            for (i, step) in self.manual_steps.iter().enumerate() {
                let _ = writeln!(out, "  {}. {step}", i + 1);
            }
        }
        out
    }
}
