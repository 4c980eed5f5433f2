//! Which advisories count as the VM-escape class in a hypervisor's record.
//!
//! The rule (docs/choosing-a-hypervisor.md): an advisory is in the class when its `kind` is
//! `vm-escape` **and** at least one of its components is something a guest drives. Components
//! the taxonomy (`hvguard_advisory::relevance::taxonomy`) classes as host-side tools (`qemu-img`,
//! `nbd`, `slirp`, `block-iscsi`, `virtiofsd`, ...), as the guest agent, or as another target
//! architecture's code do not make a guest-to-host escape, so an advisory whose every component
//! is one of those is left out. A component the taxonomy does not know is not grounds to leave
//! an advisory out, and neither is an empty component list: the kind decides then.

use hvguard_advisory::relevance::taxonomy::{spec, Class};
use hvguard_advisory::{Advisory, AdvisoryKind};

/// True when the advisory is in the VM-escape class.
pub fn is_vm_escape(advisory: &Advisory) -> bool {
    if advisory.kind != Some(AdvisoryKind::VmEscape) {
        return false;
    }
    let mut components = advisory.component_list().peekable();
    if components.peek().is_none() {
        return true;
    }
    components.any(guest_driven)
}

/// A component a guest can drive: anything but host-side tools, the guest agent and code of
/// another architecture. Unknown names count (they are not evidence of the contrary).
fn guest_driven(component: &str) -> bool {
    match spec(component) {
        Some(s) => !matches!(s.class, Class::HostTool | Class::GuestAgent | Class::Arch),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advisory(kind: Option<AdvisoryKind>, components: &[&str]) -> Advisory {
        let mut a = Advisory::new("CVE-0000-0001");
        a.kind = kind;
        a.components = components.iter().map(|c| (*c).to_owned()).collect();
        a
    }

    #[test]
    fn the_kind_and_a_guest_driven_component_decide() {
        use AdvisoryKind::*;
        assert!(is_vm_escape(&advisory(Some(VmEscape), &["virtio-net"])));
        assert!(is_vm_escape(&advisory(Some(VmEscape), &["slirp", "usb"])));
        assert!(is_vm_escape(&advisory(Some(VmEscape), &[])));
        assert!(is_vm_escape(&advisory(
            Some(VmEscape),
            &["not-in-taxonomy"]
        )));
        assert!(is_vm_escape(&advisory(Some(VmEscape), &["kata-runtime"])));
        assert!(!is_vm_escape(&advisory(Some(VmEscape), &["slirp"])));
        assert!(!is_vm_escape(&advisory(Some(VmEscape), &["block-iscsi"])));
        assert!(!is_vm_escape(&advisory(
            Some(VmEscape),
            &["guest-agent", "arch-arm"]
        )));
        assert!(!is_vm_escape(&advisory(Some(Dos), &["virtio-net"])));
        assert!(!is_vm_escape(&advisory(None, &["virtio-net"])));
    }
}
