//! `host.*` rules: facts read under the root.

use crate::Rule;

pub(crate) static RULES: &[Rule] = &[];
