//! Warnings about containerd's configuration, each with the release families it holds for.

use hvguard_core::{describe_readings, ContainerdSemantics};
use std::collections::BTreeSet;

/// One warning and the families whose reading of the files gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerdNote {
    pub readings: BTreeSet<ContainerdSemantics>,
    pub message: String,
    /// Every release of these families refuses to start with the configuration.
    pub fatal: bool,
}

impl ContainerdNote {
    /// The message, prefixed with the releases it holds for unless it holds for every one.
    pub fn render(&self) -> String {
        if self.readings.len() == ContainerdSemantics::ALL.len() {
            self.message.clone()
        } else {
            format!("{}: {}", describe_readings(&self.readings), self.message)
        }
    }
}

/// Notes gathered family by family; the same message from several families is one note.
#[derive(Debug, Default)]
pub struct Notes {
    notes: Vec<ContainerdNote>,
}

impl Notes {
    /// A warning that leaves containerd running.
    pub fn add(&mut self, semantics: ContainerdSemantics, message: String) {
        self.push(semantics, message, false);
    }

    /// A configuration containerd does not start with.
    pub fn fatal(&mut self, semantics: ContainerdSemantics, message: String) {
        self.push(semantics, message, true);
    }

    fn push(&mut self, semantics: ContainerdSemantics, message: String, fatal: bool) {
        match self.notes.iter_mut().find(|n| n.message == message) {
            Some(note) => {
                note.readings.insert(semantics);
            }
            None => self.notes.push(ContainerdNote {
                readings: BTreeSet::from([semantics]),
                message,
                fatal,
            }),
        }
    }

    /// The notes in the order first met.
    pub fn into_vec(self) -> Vec<ContainerdNote> {
        self.notes
    }
}
