//! The dry run: effective settings before and after the plan, as a unified diff.

use super::effective::Effective;
use super::paths::DROPIN_NAME;
use super::value::{render, split_key};
use crate::aliases::canonical_key;
use hvguard_core::{ConfigValue, HardeningPlan, KataConfig, RuleId, SourcedValue};
use similar::TextDiff;
use std::collections::BTreeMap;
use std::fmt;

/// One key whose effective value the plan changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedKey {
    /// Dotted key, as in the plan.
    pub key: String,
    /// The merged value now; `None` when no file sets it (Kata's built-in default applies).
    pub before: Option<ConfigValue>,
    pub after: ConfigValue,
    /// The rule that asked for the change.
    pub rule: RuleId,
}

/// What applying a plan would change in the effective (merged) configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Changes {
    /// Changed keys, sorted by key.
    pub changed: Vec<ChangedKey>,
    /// Unified diff of sorted `key = value` lines; empty when nothing changes.
    pub diff: String,
    /// `[hypervisor.*]` / `[agent.*]` sections the plan sets keys in but the configuration does
    /// not have. The Go runtime keeps hypervisor sections in a map and a drop-in key creates a
    /// new entry, which can change the hypervisor Kata picks: callers should refuse such a plan.
    pub new_sections: Vec<String>,
    /// Keys whose planned value has another TOML type than the current one (a string for a
    /// bool, ...). Both runtimes reject a drop-in whose value does not decode into the field's
    /// type, which stops every sandbox from starting: callers should refuse such a plan.
    pub retyped: Vec<String>,
}

impl Changes {
    /// True when every planned setting is already in effect (a second run after `--write`).
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty()
    }
}

impl fmt::Display for Changes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("nothing to change: every hardened setting is already in effect\n")
        } else {
            f.write_str(&self.diff)
        }
    }
}

/// Compares the effective settings of `config` (main file plus its drop-ins, merged) with the
/// same settings once `plan` is applied on top, as if hvguard's drop-in were the last file.
/// [`plan_changes_effective`] compares with what Kata will really read instead.
pub fn plan_changes(config: &KataConfig, plan: &HardeningPlan) -> Changes {
    changes(config, plan, None)
}

/// Compares the effective settings of `config` with `after`, the configuration Kata will
/// read once hvguard's drop-in is written (see [`super::effective_with_dropin`]): a later
/// drop-in that overrides a hardened key shows as no change for that key.
pub fn plan_changes_effective(
    config: &KataConfig,
    plan: &HardeningPlan,
    after: &Effective,
) -> Changes {
    changes(config, plan, Some(&after.values))
}

fn changes(
    config: &KataConfig,
    plan: &HardeningPlan,
    effective: Option<&BTreeMap<String, SourcedValue>>,
) -> Changes {
    let before: BTreeMap<&str, &ConfigValue> = config
        .values
        .iter()
        .map(|(k, v)| (k.as_str(), &v.value))
        .collect();
    let mut planned: BTreeMap<&str, (&ConfigValue, &RuleId)> = BTreeMap::new();
    for s in &plan.settings {
        planned.insert(&s.key, (&s.value, &s.rule));
    }
    let after: BTreeMap<&str, &ConfigValue> = match effective {
        Some(values) => values.iter().map(|(k, v)| (k.as_str(), &v.value)).collect(),
        None => {
            let mut after = before.clone();
            after.extend(planned.iter().map(|(k, (v, _))| (*k, *v)));
            after
        }
    };
    let mut changed = Vec::new();
    let mut retyped = Vec::new();
    for (key, (value, rule)) in &planned {
        let now = lookup(&before, key);
        if now.is_some_and(|n| kind(n) != kind(value)) {
            retyped.push(key.to_string());
        }
        let then = lookup(&after, key).unwrap_or(value);
        if now != Some(then) {
            changed.push(ChangedKey {
                key: key.to_string(),
                before: now.cloned(),
                after: then.clone(),
                rule: (*rule).clone(),
            });
        }
    }
    let mut new_sections: Vec<String> = planned
        .keys()
        .map(|k| split_key(k).0)
        .filter(|t| t.starts_with("hypervisor.") || t.starts_with("agent."))
        .filter(|t| {
            !config
                .values
                .keys()
                .any(|k| k.strip_prefix(*t).is_some_and(|r| r.starts_with('.')))
        })
        .map(str::to_string)
        .collect();
    new_sections.dedup();
    let diff = if changed.is_empty() {
        String::new()
    } else {
        let old = lines(&before);
        let new = lines(&after);
        let main = config.main.display();
        TextDiff::from_lines(&old, &new)
            .unified_diff()
            .context_radius(2)
            .header(
                &format!("{main} (effective now)"),
                &format!("{main} (with config.d/{DROPIN_NAME})"),
            )
            .to_string()
    };
    Changes {
        changed,
        diff,
        new_sections,
        retyped,
    }
}

/// `key` in `map`, or its canonical spelling: a runtime-rs plan says `seccomp_sandbox` where
/// the loader keeps `seccompsandbox`.
fn lookup<'v>(map: &BTreeMap<&str, &'v ConfigValue>, key: &str) -> Option<&'v ConfigValue> {
    map.get(key)
        .or_else(|| map.get(canonical_key(key)?.as_str()))
        .copied()
}

/// The TOML type of a value; integers and floats count as one since Kata reads some numbers
/// (`default_vcpus`) as floats.
fn kind(value: &ConfigValue) -> u8 {
    match value {
        ConfigValue::Bool(_) => 0,
        ConfigValue::Integer(_) | ConfigValue::Float(_) => 1,
        ConfigValue::String(_) => 2,
        ConfigValue::Array(_) => 3,
    }
}

fn lines(values: &BTreeMap<&str, &ConfigValue>) -> String {
    let mut out = String::new();
    for (key, value) in values {
        out.push_str(key);
        out.push_str(" = ");
        out.push_str(&render(value));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hvguard_core::{HardeningSetting, KataRuntime, SourcedValue};

    fn config(pairs: &[(&str, ConfigValue)]) -> KataConfig {
        KataConfig {
            runtime: KataRuntime::Go,
            main: "/etc/kata-containers/configuration.toml".into(),
            dropins: vec![],
            runtime_classes: vec![],
            files: vec![],
            values: pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        SourcedValue {
                            value: v.clone(),
                            path: "/etc/kata-containers/configuration.toml".into(),
                            line: 1,
                            column: 1,
                        },
                    )
                })
                .collect(),
        }
    }

    fn setting(key: &str, value: ConfigValue) -> HardeningSetting {
        HardeningSetting {
            key: key.into(),
            value,
            rule: RuleId::new("qemu.seccomp-sandbox-off").unwrap(),
            reason: "r".into(),
        }
    }

    #[test]
    fn diff_shows_changed_and_new_keys() {
        let cfg = config(&[
            (
                "hypervisor.qemu.path",
                ConfigValue::String("/usr/bin/qemu".into()),
            ),
            (
                "hypervisor.qemu.seccompsandbox",
                ConfigValue::String(String::new()),
            ),
        ]);
        let plan = HardeningPlan {
            config: cfg.main.clone(),
            settings: vec![
                setting(
                    "hypervisor.qemu.seccompsandbox",
                    ConfigValue::String("on".into()),
                ),
                setting("runtime.disable_guest_seccomp", ConfigValue::Bool(false)),
            ],
            suggestions: vec![],
        };
        let c = plan_changes(&cfg, &plan);
        assert_eq!(c.changed.len(), 2);
        assert_eq!(c.changed[1].before, None);
        assert!(
            c.diff.contains("-hypervisor.qemu.seccompsandbox = \"\"\n"),
            "{}",
            c.diff
        );
        assert!(
            c.diff
                .contains("+hypervisor.qemu.seccompsandbox = \"on\"\n"),
            "{}",
            c.diff
        );
        assert!(
            c.diff.contains("+runtime.disable_guest_seccomp = false\n"),
            "{}",
            c.diff
        );
        assert!(
            c.diff
                .contains(" hypervisor.qemu.path = \"/usr/bin/qemu\"\n"),
            "{}",
            c.diff
        );
        assert!(c
            .diff
            .starts_with("--- /etc/kata-containers/configuration.toml (effective now)"));
        assert!(c.new_sections.is_empty());
    }

    #[test]
    fn sections_the_config_lacks_are_reported() {
        let cfg = config(&[("hypervisor.qemu.path", ConfigValue::String("/q".into()))]);
        let plan = HardeningPlan {
            config: cfg.main.clone(),
            settings: vec![
                setting(
                    "hypervisor.firecracker.jailer_path",
                    ConfigValue::String("/j".into()),
                ),
                setting("hypervisor.qemu.rootless", ConfigValue::Bool(true)),
                setting("hypervisor.qemux.rootless", ConfigValue::Bool(true)),
            ],
            suggestions: vec![],
        };
        let c = plan_changes(&cfg, &plan);
        assert_eq!(
            c.new_sections,
            vec!["hypervisor.firecracker", "hypervisor.qemux"]
        );
        assert!(c.retyped.is_empty());
    }

    #[test]
    fn a_value_of_another_type_is_reported() {
        let cfg = config(&[
            ("runtime.sandbox_cgroup_only", ConfigValue::Bool(false)),
            ("hypervisor.qemu.default_vcpus", ConfigValue::Float(1.0)),
        ]);
        let plan = HardeningPlan {
            config: cfg.main.clone(),
            settings: vec![
                setting(
                    "runtime.sandbox_cgroup_only",
                    ConfigValue::String("true".into()),
                ),
                setting("hypervisor.qemu.default_vcpus", ConfigValue::Integer(2)),
            ],
            suggestions: vec![],
        };
        let c = plan_changes(&cfg, &plan);
        assert_eq!(c.retyped, vec!["runtime.sandbox_cgroup_only"]);
        assert!(c.new_sections.is_empty());
    }

    #[test]
    fn settings_already_in_effect_mean_nothing_to_change() {
        let cfg = config(&[("runtime.disable_guest_seccomp", ConfigValue::Bool(false))]);
        let plan = HardeningPlan {
            config: cfg.main.clone(),
            settings: vec![setting(
                "runtime.disable_guest_seccomp",
                ConfigValue::Bool(false),
            )],
            suggestions: vec![],
        };
        let c = plan_changes(&cfg, &plan);
        assert!(c.is_empty());
        assert!(c.diff.is_empty());
        assert!(c.to_string().starts_with("nothing to change"));
    }
}
