//! TensorBoard event files, written to the documented format: TFRecords (length, masked CRC-32C of the length,
//! data, masked CRC-32C of the data) holding `Event` protobufs with scalar `Summary` values. No TensorFlow or
//! protobuf dependency: the few fields are encoded here.
use crate::error::{io_err, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Appends scalar events to `<dir>/events.out.tfevents.<unix seconds>.froster`.
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl EventWriter {
    /// A new event file in `dir`, starting with the file-version event TensorBoard expects.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let now = wall_time();
        let path = dir.join(format!("events.out.tfevents.{}.froster", now as u64));
        let file = BufWriter::new(File::create(&path).map_err(io_err(&path))?);
        let mut w = EventWriter { path, file };
        let mut event = Vec::new();
        field_double(&mut event, 1, now);
        field_bytes(&mut event, 3, b"brain.Event:2");
        w.record(&event)?;
        Ok(w)
    }

    /// Scalars `(tag, value)` at `step`, flushed so that a live TensorBoard sees them.
    pub fn scalars(&mut self, step: i64, values: &[(&str, f64)]) -> Result<()> {
        let mut summary = Vec::new();
        for (tag, v) in values {
            let mut value = Vec::new();
            field_bytes(&mut value, 1, tag.as_bytes());
            field_float(&mut value, 2, *v as f32);
            field_bytes(&mut summary, 1, &value);
        }
        let mut event = Vec::new();
        field_double(&mut event, 1, wall_time());
        field_varint(&mut event, 2, step as u64);
        field_bytes(&mut event, 5, &summary);
        self.record(&event)?;
        self.file.flush().map_err(io_err(&self.path))
    }

    fn record(&mut self, data: &[u8]) -> Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut rec = Vec::with_capacity(data.len() + 16);
        rec.extend_from_slice(&len);
        rec.extend_from_slice(&masked_crc(&len).to_le_bytes());
        rec.extend_from_slice(data);
        rec.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.file.write_all(&rec).map_err(io_err(&self.path))
    }
}

fn wall_time() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_varint(out: &mut Vec<u8>, field: u32, v: u64) {
    varint(out, (field as u64) << 3);
    varint(out, v);
}

fn field_double(out: &mut Vec<u8>, field: u32, v: f64) {
    varint(out, ((field as u64) << 3) | 1);
    out.extend_from_slice(&v.to_le_bytes());
}

fn field_float(out: &mut Vec<u8>, field: u32, v: f32) {
    varint(out, ((field as u64) << 3) | 5);
    out.extend_from_slice(&v.to_le_bytes());
}

fn field_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    varint(out, ((field as u64) << 3) | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// CRC-32C (Castagnoli), bitwise: event files are small and written once per step.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

/// TFRecord's masked CRC.
pub fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_values() {
        // RFC 3720's check value and an all-zero block.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    }
}
