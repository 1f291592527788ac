//! Shard writing: records are appended to `shard-NNNNN.bin.tmp`; a finished shard gets its sidecar
//! (`shard-NNNNN.json`, the entries of its videos) and is then renamed into place. A rerun trusts only shards
//! that were renamed, so a kill at any point loses at most the shard in progress.
use crate::error::{io_err, json_err, Result};
use froster_loader::format::*;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// One decoded and compressed video, ready to append.
pub struct EncodedVideo {
    /// Its manifest entry (shard, offset and bytes are set when appended).
    pub entry: VideoEntry,
    /// Compressed frames and the crc32 of each.
    pub frames: Vec<(Vec<u8>, u32)>,
    /// Every source frame's presentation timestamp in container ticks (`entry.source_frames` of them).
    pub pts: Vec<i64>,
}

const SHARD_PREFIX: &str = "shard-";

/// The file name of shard `id`.
pub fn shard_name(id: u32) -> String {
    format!("{SHARD_PREFIX}{id:05}.bin")
}

/// The file name of shard `id`'s sidecar (its videos' entries).
pub fn sidecar_name(id: u32) -> String {
    format!("{SHARD_PREFIX}{id:05}.json")
}

/// The shard id of a shard, sidecar or temporary shard file name (`shard-00003.bin` -> 3).
pub fn shard_id(file_name: &str) -> Option<u32> {
    file_name.strip_prefix(SHARD_PREFIX)?.split('.').next()?.parse().ok()
}

/// The next free shard id in a pack folder.
pub fn next_shard_id(dir: &Path) -> Result<u32> {
    let mut max = None;
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let name = e.map_err(io_err(dir))?.file_name().to_string_lossy().into_owned();
        max = max.max(shard_id(&name));
    }
    Ok(max.map_or(0, |m| m + 1))
}

/// Appends video records to one shard.
pub struct ShardWriter {
    dir: PathBuf,
    id: u32,
    file: BufWriter<File>,
    len: u64,
    entries: Vec<VideoEntry>,
}

impl ShardWriter {
    /// Starts shard `id` in `dir`, as a temporary file.
    pub fn create(dir: &Path, id: u32) -> Result<Self> {
        let tmp = dir.join(format!("{}.tmp", shard_name(id)));
        let f = File::create(&tmp).map_err(io_err(&tmp))?;
        let mut file = BufWriter::with_capacity(1 << 20, f);
        file.write_all(SHARD_MAGIC).map_err(io_err(&tmp))?;
        Ok(ShardWriter { dir: dir.into(), id, file, len: SHARD_MAGIC.len() as u64, entries: Vec::new() })
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether no video was appended.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends one video record: header, frame table (absolute offsets), pts table, frames.
    pub fn append(&mut self, mut v: EncodedVideo) -> Result<VideoEntry> {
        let n = v.frames.len();
        v.entry.frames = n as u32;
        v.entry.source_frames = v.pts.len() as u32;
        let table_len = v.entry.table_len();
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
        for p in &v.pts {
            table.extend_from_slice(&p.to_le_bytes());
        }
        let tmp = self.dir.join(format!("{}.tmp", shard_name(self.id)));
        self.file.write_all(&table).map_err(io_err(&tmp))?;
        for (bytes, _) in &v.frames {
            self.file.write_all(bytes).map_err(io_err(&tmp))?;
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
        let tmp = self.dir.join(format!("{}.tmp", shard_name(self.id)));
        let file = self.file.into_inner().map_err(|e| e.into_error()).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        let sidecar = self.dir.join(sidecar_name(self.id));
        write_atomic(&sidecar, &serde_json::to_vec_pretty(&self.entries).map_err(json_err(&sidecar))?)?;
        fs::rename(&tmp, self.dir.join(shard_name(self.id))).map_err(io_err(&tmp))?;
        Ok(self.entries)
    }
}

/// Writes `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp-write");
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(())
}

/// A finished shard of an earlier build: its id and the entries of its sidecar.
pub type FinishedShard = (u32, Vec<VideoEntry>);

/// Completed shards of an interrupted build: (id, its entries), and why any shard was not trusted. Leftover
/// temporary files are removed, and so is a shard whose sidecar does not match it (truncated, its records'
/// tables not what the sidecar says, an unreadable sidecar): its videos are packed again.
pub fn completed_shards(dir: &Path) -> Result<(Vec<FinishedShard>, Vec<String>)> {
    let (mut out, mut dropped) = (Vec::new(), Vec::new());
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let p = e.map_err(io_err(dir))?.path();
        let name = p.file_name().unwrap_or_default().to_string_lossy().to_string();
        if name.ends_with(".tmp") || name.ends_with(".tmp-write") {
            fs::remove_file(&p).map_err(io_err(&p))?;
            continue;
        }
        let Some(id) = shard_id(&name).filter(|&id| name == sidecar_name(id)) else {
            continue;
        };
        if !dir.join(shard_name(id)).exists() {
            fs::remove_file(&p).map_err(io_err(&p))?;
            continue;
        }
        let shard = dir.join(shard_name(id));
        let entries: std::result::Result<Vec<VideoEntry>, String> =
            serde_json::from_slice(&fs::read(&p).map_err(io_err(&p))?).map_err(|e| format!("sidecar unreadable: {e}"));
        match entries.and_then(|es| check_shard(&shard, &es).map(|_| es)) {
            Ok(es) => out.push((id, es)),
            Err(why) => {
                dropped.push(format!("{}: {why}; its videos are packed again", shard.display()));
                fs::remove_file(&shard).map_err(io_err(&shard))?;
                fs::remove_file(&p).map_err(io_err(&p))?;
            }
        }
    }
    out.sort_by_key(|(id, _)| *id);
    Ok((out, dropped))
}

/// Whether a finished shard holds what its sidecar says: every record inside the file, with its magic and the
/// crc32 of its header, frame and pts tables (the frames' own crc32s are `verify`'s: reading every byte of a
/// large pack again would make a resume as slow as the build).
fn check_shard(shard: &Path, entries: &[VideoEntry]) -> std::result::Result<(), String> {
    let bytes = fs::read(shard).map_err(|e| e.to_string())?;
    for v in entries {
        let end = v.offset.checked_add(v.bytes).filter(|&e| e <= bytes.len() as u64);
        let table = v.offset as usize..(v.offset as usize).saturating_add(v.table_len());
        let ok = end.is_some()
            && table.end as u64 <= v.offset + v.bytes
            && bytes.get(table.start..table.start + 4) == Some(RECORD_MAGIC.as_slice())
            && bytes.get(table.clone()).map(crc32fast::hash) == Some(v.table_crc);
        if !ok {
            return Err(format!("the record of '{}' does not match its sidecar (truncated or damaged)", v.id));
        }
    }
    Ok(())
}
