//! Assembles a Snapshot from every probe.
