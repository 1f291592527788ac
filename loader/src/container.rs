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
}

/// Reads the container facts of a video file; unknown or unreadable containers get the fallback (no count, one tick per frame, not seekable).
pub fn probe(path: &Path) -> ContainerInfo {
    let fallback = ContainerInfo { frames: None, ticks_per_frame: 1.0, seekable: false };
    let Ok(mut f) = File::open(path) else {
        return fallback;
    };
    let mut head = [0u8; 12];
    if f.read_exact(&mut head).is_err() {
        return fallback;
    }
    if &head[..4] == b"RIFF" && &head[8..12] == b"AVI " {
        return ContainerInfo { frames: avi_frames(&mut f), ticks_per_frame: 1.0, seekable: false };
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
    let duration = if mdhd[0] == 1 { u64::from_be_bytes(mdhd.get(24..32)?.try_into().ok()?) } else { be32(mdhd, 16)? };
    let stsz = child(child(child(mdia, b"minf")?, b"stbl")?, b"stsz")?;
    let frames = be32(stsz, 8)? as u32;
    (frames > 0).then(|| ContainerInfo {
        frames: Some(frames),
        ticks_per_frame: duration as f64 / frames as f64,
        seekable: true,
    })
}
