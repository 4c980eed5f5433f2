//! `kata.*`, `qemu.*`, `firecracker.*` and `containerd.*` rules: the configuration audit.

use crate::Rule;

pub(crate) static RULES: &[Rule] = &[];
