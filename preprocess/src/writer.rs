//! Shard writing: records are appended to `shard-NNNNN.bin.tmp`; a finished shard gets its sidecar
//! (`shard-NNNNN.json`, the entries of its videos) and is then renamed into place. A rerun trusts only shards
//! that were renamed, so a kill at any point loses at most the shard in progress.
use anyhow::{Context, Result};
use froster_loader::format::*;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// One decoded and compressed video, ready to append.
pub struct EncodedVideo {
    pub entry: VideoEntry,
    /// Compressed frames and the crc32 of each.
    pub frames: Vec<(Vec<u8>, u32)>,
}

pub fn shard_name(id: u32) -> String {
    format!("shard-{id:05}.bin")
}
pub fn sidecar_name(id: u32) -> String {
    format!("shard-{id:05}.json")
}

pub struct ShardWriter {
    dir: PathBuf,
    id: u32,
    file: BufWriter<File>,
    len: u64,
    entries: Vec<VideoEntry>,
}

impl ShardWriter {
    pub fn create(dir: &Path, id: u32) -> Result<Self> {
        let tmp = dir.join(format!("{}.tmp", shard_name(id)));
        let f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let mut file = BufWriter::with_capacity(1 << 20, f);
        file.write_all(SHARD_MAGIC)?;
        Ok(ShardWriter { dir: dir.into(), id, file, len: SHARD_MAGIC.len() as u64, entries: Vec::new() })
    }

    pub fn len(&self) -> u64 {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends one video record: header, frame table (absolute offsets), frames.
    pub fn append(&mut self, mut v: EncodedVideo) -> Result<VideoEntry> {
        let n = v.frames.len();
        let table_len = RECORD_HEADER + n * ENTRY;
        let mut table = Vec::with_capacity(table_len);
        table.extend_from_slice(RECORD_MAGIC);
        for x in [n as u32, v.entry.width, v.entry.height] {
            table.extend_from_slice(&x.to_le_bytes());
        }
        let mut at = self.len + table_len as u64;
        for (bytes, crc) in &v.frames {
            table.extend_from_slice(&encode_entry(at, bytes.len() as u32, *crc));
            at += bytes.len() as u64;
        }
        self.file.write_all(&table)?;
        for (bytes, _) in &v.frames {
            self.file.write_all(bytes)?;
        }
        v.entry.shard = self.id;
        v.entry.offset = self.len;
        v.entry.bytes = at - self.len;
        v.entry.frames = n as u32;
        v.entry.table_crc = crc32fast::hash(&table);
        self.len = at;
        self.entries.push(v.entry.clone());
        Ok(v.entry)
    }

    /// Flushes, syncs, writes the sidecar and renames the shard into place.
    pub fn finish(self) -> Result<Vec<VideoEntry>> {
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        write_atomic(&self.dir.join(sidecar_name(self.id)), &serde_json::to_vec_pretty(&self.entries)?)?;
        let tmp = self.dir.join(format!("{}.tmp", shard_name(self.id)));
        fs::rename(&tmp, self.dir.join(shard_name(self.id)))?;
        Ok(self.entries)
    }
}

/// Writes `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp-write");
    let mut f = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Completed shards of an interrupted build: (id, its entries). Leftover temporary files are removed.
pub fn completed_shards(dir: &Path) -> Result<Vec<(u32, Vec<VideoEntry>)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy().to_string();
        if name.ends_with(".tmp") || name.ends_with(".tmp-write") {
            fs::remove_file(&p)?;
            continue;
        }
        let Some(id) = name.strip_prefix("shard-").and_then(|s| s.strip_suffix(".json")).and_then(|s| s.parse().ok())
        else {
            continue;
        };
        if !dir.join(shard_name(id)).exists() {
            fs::remove_file(&p)?;
            continue;
        }
        let entries = serde_json::from_slice(&fs::read(&p)?).with_context(|| format!("reading {}", p.display()))?;
        out.push((id, entries));
    }
    out.sort_by_key(|(id, _)| *id);
    Ok(out)
}
