//! Snapshots and reports as stored: JSON without the per-run timestamps, zlib-compressed, keyed
//! by the SHA-256 of that JSON.

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};

/// A stored blob never decompresses to more than this (a live host's snapshot is ~200 KB).
pub(crate) const MAX_JSON_BYTES: u64 = 64 << 20;

/// `(sha256, json)` of a value.
pub(crate) fn encode_json<T: serde::Serialize>(value: &T) -> serde_json::Result<(String, Vec<u8>)> {
    let json = serde_json::to_vec(value)?;
    let digest = Sha256::digest(&json);
    let mut hex = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
    }
    Ok((hex, json))
}

pub(crate) fn compress(json: &[u8]) -> std::io::Result<Vec<u8>> {
    // The fastest level: records are written on every scan, read rarely.
    let mut enc = ZlibEncoder::new(Vec::with_capacity(json.len() / 8), Compression::fast());
    enc.write_all(json)?;
    enc.finish()
}

pub(crate) fn decompress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() * 8);
    ZlibDecoder::new(data)
        .take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > MAX_JSON_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("decompresses to more than {MAX_JSON_BYTES} bytes"),
        ));
    }
    Ok(out)
}
