//! The pack format (see docs/pack-format.md). The writer lives in froster-pack; both share these definitions.
use serde::{Deserialize, Serialize};

/// The manifest's file name in a pack folder.
pub const MANIFEST: &str = "manifest.json";
/// Class names (index -> name, the reference's rephrased-JSON shape) beside the manifest, written when a build
/// took its labels from names on disk.
pub const CLASSES_FILE: &str = "classes.json";
/// The manifest's `magic` field.
pub const MANIFEST_MAGIC: &str = "FROSTER-PACK";
/// The format version this crate reads and writes.
pub const VERSION: u32 = 2;
/// Magic at the start of every shard file.
pub const SHARD_MAGIC: &[u8; 8] = b"FRPSHRD1";
/// Magic at the start of every video record inside a shard.
pub const RECORD_MAGIC: &[u8; 4] = b"FRVD";
/// Record header: magic, n_frames (u32), width (u32), height (u32).
pub const RECORD_HEADER: usize = 16;
/// One frame-table entry: offset in shard (u64), compressed length (u32), crc32 of the compressed bytes (u32).
pub const ENTRY: usize = 16;
/// One presentation timestamp (i64 container ticks) per source frame, after the frame table.
pub const PTS: usize = 8;

/// How stored frames are compressed (one per pack folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// The decoder's pixels in `pixel` format, zstd-compressed: exact.
    #[default]
    Lossless,
    /// Each frame a baseline JPEG (4:2:0) of its RGB, at the lowest quality of a ladder that keeps the frame's
    /// PSNR against the lossless RGB at or above the pack's floor; read back as RGB. (Named `compact` in packs
    /// made before the H.264 codec took that name.)
    #[serde(alias = "compact")]
    Jpeg,
    /// Lossless with temporal prediction: stored frame j is zstd of its `pixel`-format bytes when j is a multiple
    /// of [`TEMPORAL_GOP`] (a key frame), else zstd of its bytes minus stored frame j-1's, byte by byte modulo
    /// 256. Reading frame j decompresses from its key frame up to j: random access costs at most one GOP.
    Temporal,
    /// H.264 (x264, CAVLC, no B-frames) in closed GOPs of [`H264_GOP`] stored frames: stored frame j is one
    /// access unit (Annex B), a key frame with its parameter sets when j is a multiple of [`H264_GOP`]. The
    /// quality (x264's CRF) is the highest of a ladder that keeps every frame's RGB PSNR against the lossless RGB
    /// at or above the pack's floor. Read back as I420; random access decodes at most one GOP.
    H264,
}

/// The temporal codec's key-frame interval, in stored frames.
pub const TEMPORAL_GOP: usize = 4;

/// The H.264 codec's key-frame interval, in stored frames: a train clip's 8 frames lie 16 apart, so each costs
/// its own GOP, on average 2.5 pictures decoded.
pub const H264_GOP: usize = 4;

impl Codec {
    /// Whether the codec stores frames within a PSNR floor rather than exactly.
    pub fn is_lossy(self) -> bool {
        matches!(self, Codec::Jpeg | Codec::H264)
    }
}

/// How pixels are stored before zstd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// Planar YUV 4:2:0 (BT.601 limited range), as the decoder gives it: half the bytes of RGB.
    #[default]
    I420,
    /// Interleaved RGB24.
    Rgb,
}

impl PixelFormat {
    /// Bytes of one uncompressed frame of `w` x `h`.
    pub fn frame_bytes(self, w: usize, h: usize) -> usize {
        match self {
            PixelFormat::I420 => w * h + 2 * w.div_ceil(2) * h.div_ceil(2),
            PixelFormat::Rgb => w * h * 3,
        }
    }
}

/// One packed video.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VideoEntry {
    /// Path relative to the dataset root, as in the lists.
    pub id: String,
    /// Index into the manifest's shards.
    pub shard: u32,
    /// Byte offset of the video record inside the shard.
    pub offset: u64,
    /// Frames stored (after --keep-every).
    pub frames: u32,
    /// Frames the source has (in presentation order): the frames that decode.
    pub source_frames: u32,
    /// Frames the container's header counts (the reference's `stream.frames`, which its sampling uses); more than
    /// `source_frames` when the header over-counts.
    pub header_frames: u32,
    /// Stored width in pixels.
    pub width: u32,
    /// Stored height in pixels.
    pub height: u32,
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Container ticks per frame (stream duration / frames), which the reference's window rounding uses.
    pub ticks_per_frame: f64,
    /// Stored frame i is source frame i * stride.
    pub stride: u32,
    /// Bytes of the record in the shard.
    pub bytes: u64,
    /// Bytes of the source video file.
    pub source_bytes: u64,
    /// crc32 of the record's header, frame table and pts table.
    pub table_crc: u32,
    /// Lossy packs (h264, jpeg): the stored frames' PSNR against the decoder's RGB, [mean, min] in dB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr: Option<[f32; 2]>,
    /// Packed, but worth a look: e.g. a header that over-counts the frames that decode (also in `warnings.csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

impl VideoEntry {
    /// Bytes of the record before its frames: header, frame table, pts table.
    pub fn table_len(&self) -> usize {
        RECORD_HEADER + self.frames as usize * ENTRY + self.source_frames as usize * PTS
    }

    /// Frames per second of the source.
    pub fn fps(&self) -> f64 {
        self.fps_num as f64 / self.fps_den.max(1) as f64
    }
}

/// One shard file of the pack.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardEntry {
    /// Its file name in the pack folder.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A listed video that could not be packed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Failure {
    /// Its path as listed (or the list line that could not be read).
    pub path: String,
    /// Why.
    pub reason: String,
    /// The lists (name, label) that name this video, so that `replace` can put it back.
    #[serde(default)]
    pub lists: Vec<(String, i64)>,
}

/// manifest.json: written last, atomically.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Always [`MANIFEST_MAGIC`].
    pub magic: String,
    /// The format version, [`VERSION`].
    pub version: u32,
    /// How frames are stored.
    pub pixel: PixelFormat,
    /// The short side frames were scaled to (0: native size).
    pub short_side: u32,
    /// Every how many source frames one was stored.
    pub keep_every: u32,
    /// The zstd level of the frames.
    pub zstd_level: i32,
    /// The shard files, indexed by [`VideoEntry::shard`].
    pub shards: Vec<ShardEntry>,
    /// Every packed video.
    pub videos: Vec<VideoEntry>,
    /// List name -> (video index, label).
    pub lists: std::collections::BTreeMap<String, Vec<(u32, i64)>>,
    /// The listed videos that could not be packed.
    pub failed: Vec<Failure>,
    /// The frames' codec (`pixel` is what reading gives: RGB for JPEG packs).
    #[serde(default)]
    pub codec: Codec,
    /// Lossy packs (h264, jpeg): the PSNR (dB) every stored frame kept against the decoder's RGB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr_floor: Option<f64>,
    /// crc32 of this manifest serialized without the checksum ([`Manifest::seal`]): fps, strides, counts, ids and
    /// labels are covered, so an edit cannot silently change what the loader samples or scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<u32>,
}

impl Manifest {
    /// The crc32 of the manifest's JSON without its checksum field.
    pub fn compute_checksum(&self) -> u32 {
        let mut m = self.clone();
        m.checksum = None;
        crc32fast::hash(&serde_json::to_vec(&m).unwrap_or_default())
    }

    /// Sets the checksum (the writer does it last, before writing the file).
    pub fn seal(&mut self) {
        self.checksum = Some(self.compute_checksum());
    }
}

/// Writes the 16-byte frame-table entry.
pub fn encode_entry(offset: u64, len: u32, crc: u32) -> [u8; ENTRY] {
    let mut b = [0u8; ENTRY];
    b[..8].copy_from_slice(&offset.to_le_bytes());
    b[8..12].copy_from_slice(&len.to_le_bytes());
    b[12..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Reads a 16-byte frame-table entry: (offset, compressed length, crc32).
pub fn decode_entry(b: &[u8]) -> (u64, u32, u32) {
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    (u64_at(0), u32_at(8), u32_at(12))
}

/// BT.601 limited-range YUV 4:2:0 to RGB24 (what GStreamer and ffmpeg use for SD video), chroma upsampled by
/// nearest sample as ffmpeg's default swscale path does.
pub fn i420_to_rgb(src: &[u8], w: usize, h: usize, dst: &mut [u8]) {
    let cw = w.div_ceil(2);
    let (y_plane, rest) = src.split_at(w * h);
    let (u_plane, v_plane) = rest.split_at(cw * h.div_ceil(2));
    for row in 0..h {
        let yr = &y_plane[row * w..row * w + w];
        let ur = &u_plane[(row / 2) * cw..];
        let vr = &v_plane[(row / 2) * cw..];
        let out = &mut dst[row * w * 3..row * w * 3 + w * 3];
        for x in 0..w {
            yuv_to_rgb(yr[x], ur[x / 2], vr[x / 2], &mut out[x * 3..x * 3 + 3]);
        }
    }
}

/// One BT.601 limited-range pixel to RGB, in fixed point.
#[inline]
pub fn yuv_to_rgb(y: u8, u: u8, v: u8, px: &mut [u8]) {
    let c = 298 * (y as i32 - 16);
    let d = u as i32 - 128;
    let e = v as i32 - 128;
    px[0] = clamp8((c + 409 * e + 128) >> 8);
    px[1] = clamp8((c - 100 * d - 208 * e + 128) >> 8);
    px[2] = clamp8((c + 516 * d + 128) >> 8);
}

#[inline]
fn clamp8(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}
