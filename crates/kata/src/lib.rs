//! Kata and containerd configuration.
