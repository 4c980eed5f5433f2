//! Rules on the `[runtime]`, `[agent.*]` and `[factory]` sections, plus the debug switches of
//! every section.

use super::offence::{hypervisors, Fix, Offence, SectionKeys};
use super::view::ConfigView;
use crate::RuleMeta;
use hvguard_core::{ConfigValue, Severity};

const CONFIG_DOC: &str =
    "https://github.com/kata-containers/kata-containers/blob/main/src/runtime/README.md#configuration";

pub(crate) const GUEST_SECCOMP: RuleMeta = RuleMeta {
    id: "kata.guest-seccomp-disabled",
    title: "Container seccomp profiles are not applied in the guest",
    severity: Severity::Medium,
    fires_when: "[runtime] disable_guest_seccomp = true",
    remediation: "Set disable_guest_seccomp = false in [runtime].",
    references: &[CONFIG_DOC, "https://github.com/kata-containers/kata-containers/blob/main/docs/how-to/how-to-use-seccomp-with-runtime-rs.md"],
};

pub(crate) const CONSOLE: RuleMeta = RuleMeta {
    id: "kata.debug-console-enabled",
    title: "The guest debug console is enabled",
    severity: Severity::High,
    fires_when: "kernel_params contains agent.debug_console, or debug_console_enabled = true",
    remediation: "Set debug_console_enabled = false in [agent.kata] and remove agent.debug_console* from kernel_params.",
    references: &["https://github.com/kata-containers/kata-containers/blob/main/docs/Developer-Guide.md#set-up-a-debug-console"],
};

pub(crate) const DEBUG: RuleMeta = RuleMeta {
    id: "kata.debug-enabled",
    title: "Debug output is enabled",
    severity: Severity::Low,
    fires_when: "enable_debug = true in a hypervisor, runtime or agent section",
    remediation: "Set enable_debug = false in the section named by the finding.",
    references: &["https://github.com/kata-containers/kata-containers/blob/main/docs/Developer-Guide.md#enable-full-debug"],
};

pub(crate) const CGROUP: RuleMeta = RuleMeta {
    id: "kata.sandbox-cgroup-only-disabled",
    title: "Kata's host threads are not confined to the pod cgroup",
    severity: Severity::Medium,
    fires_when: "[runtime] sandbox_cgroup_only = false (or not set: false is the default)",
    remediation: "Set sandbox_cgroup_only = true in [runtime] and size the pod overhead (RuntimeClass overhead) accordingly.",
    references: &["https://github.com/kata-containers/kata-containers/blob/main/docs/design/host-cgroups.md"],
};

pub(crate) const TEMPLATE: RuleMeta = RuleMeta {
    id: "kata.vm-template-enabled",
    title: "Sandboxes are cloned from a shared VM template",
    severity: Severity::Medium,
    fires_when: "[factory] enable_template = true (runtime-rs: [hypervisor.<name>.factory])",
    remediation: "Set enable_template = false in [factory] (runtime-rs: [hypervisor.<name>.factory]).",
    references: &["https://github.com/kata-containers/kata-containers/blob/main/docs/how-to/what-is-vm-templating-and-how-do-I-use-it.md"],
};

pub(crate) const NETNS: RuleMeta = RuleMeta {
    id: "kata.new-netns-disabled",
    title: "The VMM shares the host network namespace",
    severity: Severity::High,
    fires_when: "[runtime] disable_new_netns = true",
    remediation: "Set disable_new_netns = false in [runtime].",
    references: &[CONFIG_DOC],
};

/// A `[runtime]` boolean that must not have the value `bad`.
fn runtime_bool(
    view: &ConfigView<'_>,
    name: &str,
    bad: bool,
    severity: Severity,
    message: &str,
    reason: &str,
) -> Vec<Offence> {
    let s = SectionKeys::new(view, "runtime");
    s.get(name)
        .filter(|f| f.as_bool() == Some(bad))
        .map(|f| {
            s.found(name, &f, severity, message.to_string(), |key| {
                Some(Fix::apply(key, ConfigValue::Bool(!bad), reason))
            })
        })
        .into_iter()
        .collect()
}

pub(crate) fn guest_seccomp_disabled(view: &ConfigView<'_>) -> Vec<Offence> {
    runtime_bool(
        view,
        "disable_guest_seccomp",
        true,
        Severity::Medium,
        "the seccomp profile of each container is not applied inside the guest, so the guest kernel sees every system call",
        "apply container seccomp profiles inside the guest",
    )
}

pub(crate) fn new_netns_disabled(view: &ConfigView<'_>) -> Vec<Offence> {
    runtime_bool(
        view,
        "disable_new_netns",
        true,
        Severity::High,
        "the VMM is not put in a network namespace of its own and sees the host's network",
        "keep the VMM in its own network namespace",
    )
}

pub(crate) fn sandbox_cgroup_only_disabled(view: &ConfigView<'_>) -> Vec<Offence> {
    let s = SectionKeys::new(view, "runtime");
    let message = "VMM, virtiofsd and shim threads run outside the pod cgroup, so pod limits do not bound them";
    let fix = |key: &str| {
        Some(Fix::apply(
            key,
            ConfigValue::Bool(true),
            "account every Kata host thread to the pod cgroup; add the sandbox overhead to the RuntimeClass",
        ))
    };
    match s.get("sandbox_cgroup_only") {
        None => vec![s.missing(
            "sandbox_cgroup_only",
            "false",
            Severity::Medium,
            message.into(),
            fix,
        )],
        Some(f) if f.as_bool() == Some(false) => vec![s.found(
            "sandbox_cgroup_only",
            &f,
            Severity::Medium,
            message.into(),
            fix,
        )],
        Some(_) => Vec::new(),
    }
}

/// True when kernel parameters switch the guest debug console on.
fn console_params(params: &str) -> Vec<&str> {
    params
        .split_whitespace()
        .filter(|p| p.contains("agent.debug_console"))
        .collect()
}

pub(crate) fn debug_console_enabled(view: &ConfigView<'_>) -> Vec<Offence> {
    let mut out = Vec::new();
    for (name, s) in hypervisors(view) {
        let Some(f) = s.get("kernel_params") else {
            continue;
        };
        let Some(params) = f.as_str() else { continue };
        let hits = console_params(params);
        if hits.is_empty() {
            continue;
        }
        let kept: Vec<&str> = params
            .split_whitespace()
            .filter(|p| !p.contains("agent.debug_console"))
            .collect();
        out.push(s.found(
            "kernel_params",
            &f,
            Severity::High,
            format!("{name}: kernel_params sets {}: a root shell in the guest is reachable over vsock from the host", hits.join(" ")),
            |key| Some(Fix::apply(key, ConfigValue::String(kept.join(" ")), "no guest debug console")),
        ));
    }
    for agent in view.agent_sections() {
        let s = SectionKeys::new(view, format!("agent.{agent}"));
        let Some(f) = s.get("debug_console_enabled") else {
            continue;
        };
        if f.as_bool() == Some(true) {
            out.push(s.found(
                "debug_console_enabled",
                &f,
                Severity::High,
                "the agent starts a root debug console in the guest, reachable over vsock from the host".into(),
                |key| Some(Fix::apply(key, ConfigValue::Bool(false), "no guest debug console")),
            ));
        }
    }
    out
}

pub(crate) fn debug_enabled(view: &ConfigView<'_>) -> Vec<Offence> {
    let mut sections: Vec<String> = view
        .hypervisor_sections()
        .into_iter()
        .map(|n| format!("hypervisor.{n}"))
        .collect();
    sections.push("runtime".into());
    sections.extend(
        view.agent_sections()
            .into_iter()
            .map(|a| format!("agent.{a}")),
    );
    sections
        .into_iter()
        .filter_map(|section| {
            let s = SectionKeys::new(view, section.clone());
            let f = s.get("enable_debug")?;
            (f.as_bool() == Some(true)).then(|| {
                s.found(
                    "enable_debug",
                    &f,
                    Severity::Low,
                    format!("[{section}] enable_debug = true: verbose logs can carry guest and container data, and debug adds guest kernel parameters"),
                    |key| Some(Fix::apply(key, ConfigValue::Bool(false), "no debug output in production")),
                )
            })
        })
        .collect()
}

pub(crate) fn vm_template_enabled(view: &ConfigView<'_>) -> Vec<Offence> {
    let mut sections = vec!["factory".to_string()];
    sections.extend(
        view.hypervisor_sections()
            .into_iter()
            .map(|n| format!("hypervisor.{n}.factory")),
    );
    sections
        .into_iter()
        .filter_map(|section| {
            let s = SectionKeys::new(view, section);
            let f = s.get("enable_template")?;
            (f.as_bool() == Some(true)).then(|| {
                s.found(
                    "enable_template",
                    &f,
                    Severity::Medium,
                    "sandboxes are cloned from one template VM and share its memory pages, kernel randomisation and entropy state".into(),
                    |key| Some(Fix::apply(key, ConfigValue::Bool(false), "boot every sandbox on its own, sharing no memory with others")),
                )
            })
        })
        .collect()
}
