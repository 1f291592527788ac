//! Zero-copy pack reader over memory-mapped shards.
use crate::error::{io_err, Error, Result};
use crate::format::*;
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};

thread_local! {
    /// The temporal codec's difference frame, reused across reads on a thread.
    static DELTA: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What became of a list's videos when the pack was built.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ListCounts {
    /// Videos the list named.
    pub listed: usize,
    /// Videos in the pack.
    pub packed: usize,
    /// The listed videos that are not (they failed to pack).
    pub missing: Vec<String>,
}

impl std::fmt::Display for ListCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} of {} listed", self.packed, self.listed)?;
        if !self.missing.is_empty() {
            write!(f, " ({} in failed.csv, e.g. {})", self.missing.len(), self.missing[0])?;
        }
        Ok(())
    }
}

/// An open pack: its manifest, and its shards memory-mapped. Frames are read zero-copy and checked against their crc32.
pub struct PackReader {
    dir: PathBuf,
    manifest: Manifest,
    shards: Vec<Mmap>,
}

impl PackReader {
    /// Opens the pack in folder `dir`: reads and checks the manifest, maps every shard.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mpath = dir.join(MANIFEST);
        if dir.is_dir() && !mpath.exists() {
            return Err(Error::NotAPack(dir));
        }
        let text = std::fs::read_to_string(&mpath).map_err(io_err(&mpath))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(|e| Error::BadPack { path: mpath.clone(), reason: e.to_string() })?;
        if manifest.magic == MANIFEST_MAGIC && manifest.version < VERSION {
            let reason = format!(
                "made by an older froster-pack (pack format {}; this one reads {VERSION}, which adds each frame's \
                 timestamp for variable-frame-rate sampling): rebuild it with `froster-pack build`",
                manifest.version
            );
            return Err(Error::BadPack { path: mpath, reason });
        }
        if manifest.magic != MANIFEST_MAGIC || manifest.version != VERSION {
            return Err(Error::BadPack {
                path: mpath,
                reason: format!(
                    "magic {} version {} (expected {MANIFEST_MAGIC} {VERSION})",
                    manifest.magic, manifest.version
                ),
            });
        }
        if manifest.checksum != Some(manifest.compute_checksum()) && !legacy_jpeg_sealed(&manifest) {
            let reason = match manifest.checksum {
                None => "no checksum (not written by froster-pack?)".to_string(),
                Some(_) => "its checksum does not match: the file was changed after froster-pack wrote it (hand \
                            edits are refused, as they change what is sampled and scored); rebuild, or undo the edit"
                    .to_string(),
            };
            return Err(Error::BadPack { path: mpath, reason });
        }
        crate::validate::check_manifest(&manifest, &mpath)?;
        let shards = manifest.shards.iter().map(|s| map_shard(&dir.join(&s.file))).collect::<Result<_>>()?;
        let reader = PackReader { dir, manifest, shards };
        for i in 0..reader.manifest.videos.len() {
            reader.check_record(i)?;
        }
        Ok(reader)
    }

    /// The pack folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// Every packed video.
    pub fn videos(&self) -> &[VideoEntry] {
        &self.manifest.videos
    }
    /// The video at index `idx` (panics past the end: indices come from the manifest).
    pub fn video(&self, idx: usize) -> &VideoEntry {
        &self.manifest.videos[idx]
    }
    /// The index of the video with id `id`.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.manifest.videos.iter().position(|v| v.id == id)
    }

    /// The (video index, label) pairs of a list kept in the pack (e.g. "train", "val", "test").
    pub fn list(&self, name: &str) -> Result<&[(u32, i64)]> {
        self.manifest.lists.get(name).map(|v| v.as_slice()).ok_or_else(|| Error::UnknownList {
            name: name.into(),
            known: self.manifest.lists.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// How many videos a list named when the pack was built, and which of them are not in the pack (they failed
    /// to pack, and are in failed.csv).
    pub fn list_counts(&self, name: &str) -> Result<ListCounts> {
        let packed = self.list(name)?.len();
        let missing: Vec<String> = (self.manifest.failed.iter())
            .filter(|f| f.lists.iter().any(|(l, _)| l == name))
            .map(|f| f.path.clone())
            .collect();
        Ok(ListCounts { listed: packed + missing.len(), packed, missing })
    }

    fn record(&self, idx: usize) -> &[u8] {
        let v = &self.manifest.videos[idx];
        let shard = &self.shards[v.shard as usize];
        &shard[v.offset as usize..(v.offset + v.bytes) as usize]
    }

    /// Checks that the record exists, is in bounds, has the right header and an intact frame table.
    fn check_record(&self, idx: usize) -> Result<()> {
        let v = &self.manifest.videos[idx];
        let bad = |reason: String| Error::CorruptFrame { video: v.id.clone(), frame: 0, reason };
        let shard = self.shards.get(v.shard as usize).ok_or_else(|| bad(format!("shard {} missing", v.shard)))?;
        let table_len = v.table_len();
        let end = v.offset.saturating_add(v.bytes);
        if end > shard.len() as u64 || (v.bytes as usize) < table_len {
            return Err(bad("record out of the shard's bounds (truncated shard?)".into()));
        }
        let rec = self.record(idx);
        if &rec[..4] != RECORD_MAGIC {
            return Err(bad("bad record magic".into()));
        }
        if crc32fast::hash(&rec[..table_len]) != v.table_crc {
            return Err(bad("frame table checksum mismatch".into()));
        }
        Ok(())
    }

    /// Each source frame's presentation timestamp in container ticks (checked with the frame table on open).
    pub fn pts(&self, idx: usize) -> Vec<i64> {
        let v = &self.manifest.videos[idx];
        let at = RECORD_HEADER + v.frames as usize * ENTRY;
        let table = &self.record(idx)[at..at + v.source_frames as usize * PTS];
        table.chunks_exact(PTS).map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes"))).collect()
    }

    /// The compressed bytes of one stored frame and their recorded crc32.
    pub fn frame_bytes(&self, idx: usize, frame: usize) -> Result<(&[u8], u32)> {
        let v = &self.manifest.videos[idx];
        if frame >= v.frames as usize {
            return Err(Error::CorruptFrame {
                video: v.id.clone(),
                frame,
                reason: format!("only {} frames", v.frames),
            });
        }
        let rec = self.record(idx);
        let at = RECORD_HEADER + frame * ENTRY;
        let (off, len, crc) = decode_entry(&rec[at..at + ENTRY]);
        let shard = &self.shards[v.shard as usize];
        let end = off as usize + len as usize;
        if end > shard.len() {
            return Err(Error::CorruptFrame { video: v.id.clone(), frame, reason: "frame beyond shard end".into() });
        }
        Ok((&shard[off as usize..end], crc))
    }

    /// Decompresses one stored frame into `out` (resized to the frame's byte size), optionally checking its crc32.
    pub fn read_frame(
        &self,
        idx: usize,
        frame: usize,
        verify: bool,
        zstd: &mut zstd::bulk::Decompressor<'static>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match self.manifest.codec {
            Codec::Lossless => self.unpack(idx, frame, verify, zstd, out),
            Codec::Jpeg => {
                let v = &self.manifest.videos[idx];
                let bytes = self.checked_bytes(idx, frame, verify)?;
                crate::jpeg::decode_rgb(bytes, v.width as usize, v.height as usize, out)
                    .map_err(|reason| Error::CorruptFrame { video: v.id.clone(), frame, reason })
            }
            Codec::H264 => self.decode_h264(idx, frame, verify, out),
            Codec::Temporal => {
                // From the key frame, add each following difference (modulo 256) up to `frame`.
                let key = frame - frame % TEMPORAL_GOP;
                self.unpack(idx, key, verify, zstd, out)?;
                DELTA.with(|d| {
                    let mut d = d.borrow_mut();
                    for f in key + 1..=frame {
                        self.unpack(idx, f, verify, zstd, &mut d)?;
                        out.iter_mut().zip(d.iter()).for_each(|(o, &x)| *o = o.wrapping_add(x));
                    }
                    Ok(())
                })
            }
        }
    }

    /// One stored frame's bytes, their crc32 checked when `verify`.
    fn checked_bytes(&self, idx: usize, frame: usize, verify: bool) -> Result<&[u8]> {
        let (bytes, crc) = self.frame_bytes(idx, frame)?;
        if verify && crc32fast::hash(bytes) != crc {
            let v = &self.manifest.videos[idx];
            return Err(Error::CorruptFrame { video: v.id.clone(), frame, reason: "checksum mismatch".into() });
        }
        Ok(bytes)
    }

    /// Checks one stored frame on its own: its crc32, and that it decodes to the frame's size. A flipped byte is
    /// reported once, at its frame: a temporal frame's difference is checked without its GOP, and an H.264
    /// frame is decoded only when the frames before it in its GOP are intact.
    pub fn check_frame(
        &self,
        idx: usize,
        frame: usize,
        zstd: &mut zstd::bulk::Decompressor<'static>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match self.manifest.codec {
            Codec::Temporal => self.unpack(idx, frame, true, zstd, out),
            Codec::H264 => {
                self.checked_bytes(idx, frame, true)?;
                // A damaged earlier frame of the GOP is reported at its own turn, once.
                let key = frame - frame % H264_GOP;
                if (key..frame).any(|f| self.checked_bytes(idx, f, true).is_err()) {
                    return Ok(());
                }
                self.decode_h264(idx, frame, false, out)
            }
            Codec::Lossless | Codec::Jpeg => self.read_frame(idx, frame, true, zstd, out),
        }
    }

    /// Decodes an H.264 frame from its GOP's key frame.
    fn decode_h264(&self, idx: usize, frame: usize, verify: bool, out: &mut Vec<u8>) -> Result<()> {
        let v = &self.manifest.videos[idx];
        let key = frame - frame % H264_GOP;
        let mut gop: [&[u8]; H264_GOP] = [&[]; H264_GOP];
        for f in key..=frame {
            gop[f - key] = self.checked_bytes(idx, f, verify)?;
        }
        crate::h264::decode_last(&gop[..=frame - key], v.width as usize, v.height as usize, out)
            .map_err(|reason| Error::CorruptFrame { video: v.id.clone(), frame, reason })
    }

    /// zstd-decompresses one stored frame's own bytes into `out` (for the temporal codec, a difference frame
    /// stays a difference): the `pixel` size is checked.
    fn unpack(
        &self,
        idx: usize,
        frame: usize,
        verify: bool,
        zstd: &mut zstd::bulk::Decompressor<'static>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let v = &self.manifest.videos[idx];
        let bytes = self.checked_bytes(idx, frame, verify)?;
        let corrupt = |reason: String| Error::CorruptFrame { video: v.id.clone(), frame, reason };
        let n = self.manifest.pixel.frame_bytes(v.width as usize, v.height as usize);
        out.resize(n, 0);
        let got = zstd.decompress_to_buffer(bytes, out.as_mut_slice()).map_err(|e| corrupt(e.to_string()))?;
        if got != n {
            return Err(corrupt(format!("decompressed {got} bytes, expected {n}")));
        }
        Ok(())
    }

    /// Stored frame `frame` of video `idx` as RGB24, checksum verified (a convenience: it allocates).
    pub fn frame_rgb(&self, idx: usize, frame: usize) -> Result<Vec<u8>> {
        let mut z = zstd::bulk::Decompressor::new().map_err(io_err(&self.dir))?;
        let (mut scratch, mut rgb) = (Vec::new(), Vec::new());
        self.read_rgb(idx, frame, true, &mut z, &mut scratch, &mut rgb)?;
        Ok(rgb)
    }

    /// Decodes one stored frame to RGB24 (w*h*3), using `scratch` for the stored pixels.
    pub fn read_rgb(
        &self,
        idx: usize,
        frame: usize,
        verify: bool,
        zstd: &mut zstd::bulk::Decompressor<'static>,
        scratch: &mut Vec<u8>,
        rgb: &mut Vec<u8>,
    ) -> Result<()> {
        let v = &self.manifest.videos[idx];
        let (w, h) = (v.width as usize, v.height as usize);
        match self.manifest.pixel {
            PixelFormat::Rgb => self.read_frame(idx, frame, verify, zstd, rgb),
            PixelFormat::I420 => {
                self.read_frame(idx, frame, verify, zstd, scratch)?;
                rgb.resize(w * h * 3, 0);
                i420_to_rgb(scratch, w, h, rgb);
                Ok(())
            }
        }
    }
}

/// A JPEG pack written when that codec was named `compact`: its checksum covers the old name.
fn legacy_jpeg_sealed(m: &Manifest) -> bool {
    let Ok(json) = serde_json::to_string(&Manifest { checksum: None, ..m.clone() }) else { return false };
    let old = json.replacen("\"codec\":\"jpeg\"", "\"codec\":\"compact\"", 1);
    m.codec == Codec::Jpeg && m.checksum == Some(crc32fast::hash(old.as_bytes()))
}

fn map_shard(path: &Path) -> Result<Mmap> {
    let f = File::open(path).map_err(io_err(path))?;
    // SAFETY: shards are immutable once renamed into place; replace/compact write new files.
    let map = unsafe { Mmap::map(&f) }.map_err(io_err(path))?;
    if map.len() < SHARD_MAGIC.len() || &map[..SHARD_MAGIC.len()] != SHARD_MAGIC {
        return Err(Error::BadPack { path: path.into(), reason: "bad shard magic".into() });
    }
    Ok(map)
}
