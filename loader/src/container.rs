//! Reads the few container facts the reference's sampling depends on (the video track's tick count per frame),
//! from MP4 (`mdhd`, `stsz`) and AVI (`avih`) headers. Other containers fall back to one tick per frame.
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Container facts of the video stream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContainerInfo {
    /// Frames the header counts, when it says.
    pub frames: Option<u32>,
    /// Container ticks per frame (stream duration / frames).
    pub ticks_per_frame: f64,
    /// MP4: timestamps number frames reliably, so seeking is exact.
    pub seekable: bool,
    /// Container ticks per second (the MP4 track's `mdhd` timescale); None: one tick per frame (AVI and others).
    pub timescale: Option<u32>,
    /// MP4 `stts`: the sum of all sample durations and the first sample's duration, in ticks.
    pub stts: Option<(u64, u64)>,
}

/// A stream's rate and tick spacing as the reference (PyAV over ffmpeg) sees them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// `stream.average_rate` as a fraction.
    pub fps: (u32, u32),
    /// `stream.duration / stream.frames`, the reference's pts per frame.
    pub ticks_per_frame: f64,
}

impl ContainerInfo {
    /// A stream time (ns) in container ticks, as PyAV's `frame.pts` counts them (`fps` when the container's ticks
    /// are frames).
    pub fn ticks(&self, ns: u64, fps: f64) -> i64 {
        let per_second = self.timescale.map(f64::from).unwrap_or(fps);
        (ns as f64 * 1e-9 * per_second).round() as i64
    }

    /// The reference's average rate and pts per frame. MP4 as ffmpeg's mov demuxer computes them:
    /// `average_rate` = samples x timescale / (sum of `stts` durations), which follows the timestamps of a
    /// variable-frame-rate stream; `duration` = the durations of the samples that display, which leaves out those
    /// an edit list hides (leading samples, each as long as the first: ffmpeg's edited index).
    /// Other containers: the decoder's rate, one tick per frame.
    pub fn timing(&self, decoded: usize, decoder_fps: (u32, u32)) -> Timing {
        let fallback = Timing { fps: decoder_fps, ticks_per_frame: self.ticks_per_frame };
        let (Some(frames), Some(scale), Some((total, first))) = (self.frames, self.timescale, self.stts) else {
            return fallback;
        };
        let hidden = (frames as u64).saturating_sub(decoded as u64);
        let duration = total.saturating_sub(hidden.saturating_mul(first)) as f64;
        let fps = reduce(frames as u64 * scale as u64, total).unwrap_or(decoder_fps);
        if total == 0 || duration <= 0.0 {
            return fallback;
        }
        Timing { fps, ticks_per_frame: duration / frames as f64 }
    }

    /// The first `frames` decoded frames' timestamps (stream times in ns, in presentation order) in container
    /// ticks, as PyAV's `frame.pts`: MP4 timescale units; a container without a time base (AVI: a fixed rate)
    /// numbers its frames.
    pub fn pts_ticks(&self, stamps: &[u64], frames: usize, fps: f64) -> Vec<i64> {
        match self.timescale {
            Some(_) => stamps.iter().take(frames).map(|&ns| self.ticks(ns, fps)).collect(),
            None => (0..frames as i64).collect(),
        }
    }
}

/// Reads the container facts of a video file; unknown or unreadable containers get the fallback (no count, one tick per frame, not seekable).
pub fn probe(path: &Path) -> ContainerInfo {
    let fallback = ContainerInfo { frames: None, ticks_per_frame: 1.0, seekable: false, timescale: None, stts: None };
    let Ok(mut f) = File::open(path) else {
        return fallback;
    };
    let mut head = [0u8; 12];
    if f.read_exact(&mut head).is_err() {
        return fallback;
    }
    if &head[..4] == b"RIFF" && &head[8..12] == b"AVI " {
        let frames = avi_frames(&mut f);
        return ContainerInfo { frames, ticks_per_frame: 1.0, seekable: false, timescale: None, stts: None };
    }
    mp4_probe(&mut f).unwrap_or(fallback)
}

fn avi_frames(f: &mut File) -> Option<u32> {
    let mut buf = vec![0u8; 4096];
    f.seek(SeekFrom::Start(0)).ok()?;
    let n = f.read(&mut buf).ok()?;
    let at = buf[..n].windows(4).position(|w| w == b"avih")?;
    let d = &buf[at + 8..];
    Some(u32::from_le_bytes(d.get(16..20)?.try_into().ok()?))
}

fn mp4_probe(f: &mut File) -> Option<ContainerInfo> {
    let len = f.seek(SeekFrom::End(0)).ok()?;
    let mut pos = 0u64;
    while pos + 8 <= len {
        f.seek(SeekFrom::Start(pos)).ok()?;
        let (size, kind, header) = read_header(f, len - pos)?;
        if &kind == b"moov" {
            let mut moov = vec![0u8; (size - header) as usize];
            f.read_exact(&mut moov).ok()?;
            return boxes(&moov).filter(|(k, _)| k == b"trak").find_map(|(_, t)| video_track(t));
        }
        pos += size;
    }
    None
}

fn read_header(f: &mut File, remaining: u64) -> Option<(u64, [u8; 4], u64)> {
    let mut h = [0u8; 8];
    f.read_exact(&mut h).ok()?;
    let kind: [u8; 4] = h[4..8].try_into().ok()?;
    let size = u32::from_be_bytes(h[..4].try_into().ok()?) as u64;
    match size {
        0 => Some((remaining, kind, 8)),
        1 => {
            let mut l = [0u8; 8];
            f.read_exact(&mut l).ok()?;
            Some((u64::from_be_bytes(l), kind, 16))
        }
        s if s >= 8 => Some((s, kind, 8)),
        _ => None,
    }
}

/// Iterates the child boxes of a payload.
fn boxes(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let size = u32::from_be_bytes(data[..4].try_into().ok()?) as usize;
        let kind: [u8; 4] = data[4..8].try_into().ok()?;
        let (start, size) = match size {
            1 => (16, u64::from_be_bytes(data.get(8..16)?.try_into().ok()?) as usize),
            0 => (8, data.len()),
            s => (8, s),
        };
        if size < start || size > data.len() {
            return None;
        }
        let payload = &data[start..size];
        data = &data[size..];
        Some((kind, payload))
    })
}

fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| k == kind).map(|(_, p)| p)
}

fn video_track(trak: &[u8]) -> Option<ContainerInfo> {
    let mdia = child(trak, b"mdia")?;
    if child(mdia, b"hdlr")?.get(8..12)? != b"vide" {
        return None;
    }
    let mdhd = child(mdia, b"mdhd")?;
    let be32 = |d: &[u8], i: usize| Some(u32::from_be_bytes(d.get(i..i + 4)?.try_into().ok()?) as u64);
    let v1 = *mdhd.first()? == 1;
    let duration = if v1 { u64::from_be_bytes(mdhd.get(24..32)?.try_into().ok()?) } else { be32(mdhd, 16)? };
    let timescale = be32(mdhd, if v1 { 20 } else { 12 })? as u32;
    let stbl = child(child(mdia, b"minf")?, b"stbl")?;
    let stsz = child(stbl, b"stsz")?;
    let frames = be32(stsz, 8)? as u32;
    let stts = child(stbl, b"stts").and_then(|t| {
        let n = be32(t, 4)? as usize;
        let mut entries = t.get(8..8 + n.checked_mul(8)?)?.chunks_exact(8);
        let sum = entries.clone().try_fold(0u64, |acc, e| acc.checked_add(be32(e, 0)? * be32(e, 4)?))?;
        Some((sum, entries.next().and_then(|e| be32(e, 4))?))
    });
    (frames > 0).then(|| ContainerInfo {
        frames: Some(frames),
        ticks_per_frame: duration as f64 / frames as f64,
        seekable: true,
        timescale: (timescale > 0).then_some(timescale),
        stts,
    })
}

/// `num / den` in lowest terms, if both fit a u32.
fn reduce(num: u64, den: u64) -> Option<(u32, u32)> {
    let (mut a, mut b) = (num, den);
    while b != 0 {
        (a, b) = (b, a % b);
    }
    let g = a.max(1);
    Some((u32::try_from(num / g).ok()?, u32::try_from(den / g).ok()?)).filter(|(n, d)| *n > 0 && *d > 0)
}
