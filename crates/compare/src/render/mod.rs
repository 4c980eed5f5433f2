//! Renderers: they read a [`crate::Comparison`] and compute nothing.

pub mod markdown;
pub mod text;
