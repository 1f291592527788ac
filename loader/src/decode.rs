//! GStreamer decoding: filesrc ! decodebin ! videoconvert ! videoscale ! capsfilter ! appsink.
use crate::error::{Error, Result};
use crate::format::PixelFormat;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use std::path::Path;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// What decoding needs to know beyond the file.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions {
    /// Downscale so that the short side is this (0 keeps the native size; smaller videos are never upscaled).
    pub short_side: u32,
    /// How frames are delivered.
    pub pixel: PixelFormat,
    /// A decode that produces no frame for this long is reported as stalled.
    pub stall_timeout: Duration,
    /// Seek to a range's first frame (the keyframe before it) and number frames by timestamp. Off: decode from
    /// the start and count frames, for containers whose timestamps do not number frames reliably (AVI with
    /// packed B-frames repeats timestamps).
    pub seek: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { short_side: 256, pixel: PixelFormat::I420, stall_timeout: Duration::from_secs(20), seek: true }
    }
}

/// Stream facts found while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DecodedInfo {
    /// Frames decoded.
    pub frames: u32,
    /// Delivered width in pixels.
    pub width: u32,
    /// Delivered height in pixels.
    pub height: u32,
    /// Frame rate numerator.
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Display orientation from the container's metadata (GStreamer's `image-orientation`, e.g. "rotate-90"),
    /// which frames are NOT turned by: they come out as coded, as the reference's PyAV decode gives them.
    pub orientation: Option<&'static str>,
    /// Errors the decoder reported while concealing damage (libav's log): a damaged bitstream.
    pub decode_errors: u32,
}

/// Initialises GStreamer once per process.
pub fn init() -> Result<()> {
    static INIT: Once = Once::new();
    let mut res = Ok(());
    INIT.call_once(|| {
        res = gst::init().map_err(|e| Error::GStreamer(format!("init failed: {e}")));
        if res.is_ok() {
            crate::decode_errors::install();
        }
    });
    res
}

/// Output size for a native size and a short-side target: downscale only, even dimensions for 4:2:0.
pub fn target_size(w: u32, h: u32, short_side: u32) -> (u32, u32) {
    let short = w.min(h);
    if short_side == 0 || short <= short_side {
        return (w, h);
    }
    let scale = short_side as f64 / short as f64;
    let even = |x: f64| ((x / 2.0).round() as u32 * 2).max(2);
    if w <= h {
        (short_side, even(h as f64 * scale))
    } else {
        (even(w as f64 * scale), short_side)
    }
}

/// Decodes `path` in presentation order, calling `on_frame(index, tight_pixels, w, h)` for each frame.
/// `range` = (first, last) seeks to the keyframe before `first` and stops after `last`; `keep` picks the frames
/// to copy out (the others are decoded, as later frames need them, but not copied).
pub fn decode(
    path: &Path,
    opts: &DecodeOptions,
    range: Option<(usize, usize)>,
    keep: Option<&dyn Fn(usize) -> bool>,
    on_frame: impl FnMut(usize, &[u8], u32, u32) -> Result<()>,
) -> Result<DecodedInfo> {
    decode_timed(path, opts, range, keep, None, on_frame).map(|d| d.0)
}

/// [`decode`], also returning every decoded frame's stream time in nanoseconds (what ffprobe shows as its
/// pts_time), in decode-output (presentation) order. With `times` (a whole decode's stream times), a seek numbers
/// frames by finding their time in it, which holds on variable-frame-rate video; without, by time x fps.
pub fn decode_timed(
    path: &Path,
    opts: &DecodeOptions,
    range: Option<(usize, usize)>,
    keep: Option<&dyn Fn(usize) -> bool>,
    times: Option<&[u64]>,
    mut on_frame: impl FnMut(usize, &[u8], u32, u32) -> Result<()>,
) -> Result<(DecodedInfo, Vec<u64>)> {
    init()?;
    let err = |reason: String| Error::Decode { path: path.to_path_buf(), reason };
    if !path.is_file() {
        return Err(err(if path.exists() { "not a regular file".into() } else { "file not found".into() }));
    }
    if is_gif(path) {
        // GStreamer 1.22 hands out a GIF's frames (all with pts 0) and then never ends the stream: a stall.
        return Err(err("an animated GIF: GStreamer decodes its frames but never ends the stream; convert it \
                        first, e.g. `ffmpeg -i in.gif -pix_fmt yuv420p out.mp4`"
            .into()));
    }
    let errors = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let _release = ReleaseCounter(errors.clone());
    let (pipeline, sink) = build(path, opts, errors.clone()).map_err(|e| err(e.to_string()))?;
    let guard = StopOnDrop(pipeline.clone());
    pipeline.set_state(gst::State::Paused).map_err(|_| err(bus_error(&pipeline).unwrap_or("cannot start".into())))?;
    let seeking = opts.seek && range.is_some_and(|r| r.0 > 0);
    if let Some((first, _)) = range.filter(|_| seeking) {
        wait_paused(&pipeline, opts.stall_timeout).map_err(err)?;
        let fps = current_fps(&sink).unwrap_or((30, 1));
        let t = (first as f64 - 0.5).max(0.0) * fps.1 as f64 / fps.0.max(1) as f64;
        pipeline
            .seek_simple(
                gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT | gst::SeekFlags::SNAP_BEFORE,
                gst::ClockTime::from_nseconds((t * 1e9) as u64),
            )
            .map_err(|e| err(format!("seek failed: {e}")))?;
    }
    pipeline.set_state(gst::State::Playing).map_err(|_| err(bus_error(&pipeline).unwrap_or("cannot play".into())))?;
    let mut info = DecodedInfo::default();
    let mut tight = Vec::new();
    let mut last_progress = Instant::now();
    let mut count = 0usize;
    let mut stamps = Vec::new();
    loop {
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
            if let Some(e) = bus_error(&pipeline) {
                return Err(err(e));
            }
            if sink.is_eos() {
                break;
            }
            if last_progress.elapsed() > opts.stall_timeout {
                return Err(err(format!("decode stalled for {:?}", opts.stall_timeout)));
            }
            continue;
        };
        last_progress = Instant::now();
        let (w, h, fps) = sample_info(&sample).map_err(err)?;
        let time = stream_time_ns(&sample);
        let index = match (range, times, time) {
            (Some(_), Some(t), Some(ns)) if seeking => nearest_time(t, ns),
            (Some((first, _)), _, _) if seeking => frame_index(&sample, fps).unwrap_or(first + count),
            _ => count,
        };
        // A frame without a time gets its predecessor's (or 0): the table stays sorted.
        stamps.push(time.unwrap_or(stamps.last().copied().unwrap_or(0)));
        count += 1;
        let orientation = info.orientation.or_else(|| orientation(&pipeline));
        info = DecodedInfo {
            frames: count as u32,
            width: w,
            height: h,
            fps_num: fps.0,
            fps_den: fps.1,
            orientation,
            decode_errors: 0,
        };
        if let Some((first, last)) = range {
            if index < first {
                continue;
            }
            if index > last {
                break;
            }
        }
        if !keep.is_none_or(|k| k(index)) {
            continue; // decoded (the later frames need it) but not wanted: no copy
        }
        copy_frame(&sample, opts.pixel, &mut tight).map_err(err)?;
        on_frame(index, &tight, w, h)?;
        if range.is_some_and(|(_, last)| index >= last) {
            break;
        }
    }
    drop(guard);
    if count == 0 {
        return Err(err("no video frames decoded".into()));
    }
    info.decode_errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    Ok((info, stamps))
}

/// Unregisters a decode's error counter however the decode ends.
struct ReleaseCounter(Arc<std::sync::atomic::AtomicU32>);
impl Drop for ReleaseCounter {
    fn drop(&mut self) {
        crate::decode_errors::release(&self.0);
    }
}

/// The first non-identity `image-orientation` tag waiting on the bus (other tags are dropped).
fn orientation(p: &gst::Pipeline) -> Option<&'static str> {
    let bus = p.bus()?;
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Tag]) {
        let gst::MessageView::Tag(t) = msg.view() else { continue };
        let tags = t.tags();
        let Some(o) = tags.get::<gst::tags::ImageOrientation>() else { continue };
        const KNOWN: [&str; 7] = [
            "rotate-90",
            "rotate-180",
            "rotate-270",
            "flip-rotate-0",
            "flip-rotate-90",
            "flip-rotate-180",
            "flip-rotate-270",
        ];
        if let Some(k) = KNOWN.iter().find(|k| **k == o.get()) {
            return Some(k);
        }
    }
    None
}

fn is_gif(path: &Path) -> bool {
    let mut magic = [0u8; 6];
    std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic)).is_ok()
        && (&magic == b"GIF87a" || &magic == b"GIF89a")
}

/// A sample's stream time (its segment's view of the buffer pts: ffprobe's pts_time), in nanoseconds.
fn stream_time_ns(sample: &gst::Sample) -> Option<u64> {
    let pts = sample.buffer()?.pts()?;
    let seg = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    Some(seg.to_stream_time(pts)?.nseconds())
}

/// The index of the time in a sorted table nearest to `ns`.
fn nearest_time(table: &[u64], ns: u64) -> usize {
    let i = table.partition_point(|&t| t < ns);
    match (i.checked_sub(1), table.get(i)) {
        (Some(p), Some(&next)) if ns - table[p] < next - ns => p,
        (Some(p), None) => p,
        _ => i,
    }
}

struct StopOnDrop(gst::Pipeline);
impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

fn build(
    path: &Path,
    opts: &DecodeOptions,
    errors: Arc<std::sync::atomic::AtomicU32>,
) -> std::result::Result<(gst::Pipeline, gst_app::AppSink), String> {
    let pipeline = gst::Pipeline::new();
    let make = |f: &str| gst::ElementFactory::make(f).build().map_err(|_| format!("GStreamer element '{f}' missing"));
    let src = make("filesrc")?;
    src.set_property("location", path.to_string_lossy().to_string());
    let decodebin = make("decodebin")?;
    crate::decode_errors::watch(&decodebin, errors);
    let convert = make("videoconvert")?;
    let scale = make("videoscale")?;
    let filter = make("capsfilter")?;
    let format = match opts.pixel {
        PixelFormat::I420 => "I420",
        PixelFormat::Rgb => "RGB",
    };
    let sink = gst_app::AppSink::builder().sync(false).max_buffers(4).drop(false).build();
    pipeline.add_many([&src, &decodebin, &convert, &scale, &filter, sink.upcast_ref()]).map_err(|e| e.to_string())?;
    src.link(&decodebin).map_err(|e| e.to_string())?;
    gst::Element::link_many([&convert, &scale, &filter, sink.upcast_ref()]).map_err(|e| e.to_string())?;
    let short_side = opts.short_side;
    let linked = Arc::new(Mutex::new(false));
    decodebin.connect_pad_added(move |_, pad| {
        let caps = pad.current_caps().or_else(|| Some(pad.query_caps(None)));
        let Some(s) = caps.as_ref().and_then(|c| c.structure(0).map(|s| s.to_owned())) else {
            return;
        };
        if !s.name().starts_with("video/") {
            return;
        }
        let mut done = linked.lock().unwrap();
        if *done {
            return;
        }
        let (w, h) = (s.get::<i32>("width").unwrap_or(0) as u32, s.get::<i32>("height").unwrap_or(0) as u32);
        let mut b = gst::Caps::builder("video/x-raw").field("format", format);
        if w > 0 && h > 0 {
            let (tw, th) = target_size(w, h, short_side);
            b = b.field("width", tw as i32).field("height", th as i32);
        }
        filter.set_property("caps", b.build());
        let sinkpad = convert.static_pad("sink").unwrap();
        if pad.link(&sinkpad).is_ok() {
            *done = true;
        }
    });
    Ok((pipeline, sink))
}

fn wait_paused(p: &gst::Pipeline, timeout: Duration) -> std::result::Result<(), String> {
    let (res, _, _) = p.state(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64));
    res.map(|_| ()).map_err(|_| bus_error(p).unwrap_or_else(|| "cannot preroll".into()))
}

fn bus_error(p: &gst::Pipeline) -> Option<String> {
    let bus = p.bus()?;
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(e) = msg.view() {
            // Only video pads are linked, and a demuxer stops "not-linked" only when none of its streams is: the
            // file has no video stream (audio only, subtitles, data).
            if e.debug().is_some_and(|d| d.contains("not-linked")) {
                return Some("no video stream (the file holds only other streams, e.g. audio)".into());
            }
            return Some(e.error().to_string());
        }
    }
    None
}

fn current_fps(sink: &gst_app::AppSink) -> Option<(u32, u32)> {
    let caps = sink.static_pad("sink")?.current_caps()?;
    let info = gst_video::VideoInfo::from_caps(&caps).ok()?;
    let f = info.fps();
    (f.numer() > 0).then(|| (f.numer() as u32, f.denom() as u32))
}

/// Source frame index of a sample, from its stream time.
fn frame_index(sample: &gst::Sample, fps: (u32, u32)) -> Option<usize> {
    let pts = sample.buffer()?.pts()?;
    let seg = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let st = seg.to_stream_time(pts)?;
    Some((st.nseconds() as f64 * 1e-9 * fps.0 as f64 / fps.1.max(1) as f64).round() as usize)
}

/// Size and frame rate of a sample, from its caps.
fn sample_info(sample: &gst::Sample) -> std::result::Result<(u32, u32, (u32, u32)), String> {
    let info =
        gst_video::VideoInfo::from_caps(sample.caps().ok_or("sample without caps")?).map_err(|e| e.to_string())?;
    let fps = info.fps();
    let fps = if fps.numer() > 0 { (fps.numer() as u32, fps.denom() as u32) } else { (0, 1) };
    Ok((info.width(), info.height(), fps))
}

/// Copies a sample's frame into a tightly packed buffer, honouring each plane's stride.
fn copy_frame(sample: &gst::Sample, pixel: PixelFormat, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    let caps = sample.caps().ok_or("sample without caps")?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| e.to_string())?;
    let buffer = sample.buffer().ok_or("sample without buffer")?;
    let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).map_err(|e| e.to_string())?;
    let (w, h) = (info.width() as usize, info.height() as usize);
    out.clear();
    let planes: &[(usize, usize)] = match pixel {
        PixelFormat::I420 => &[(w, h), (w.div_ceil(2), h.div_ceil(2)), (w.div_ceil(2), h.div_ceil(2))],
        PixelFormat::Rgb => &[(w * 3, h)],
    };
    for (p, &(row_bytes, rows)) in planes.iter().enumerate() {
        let data = frame.plane_data(p as u32).map_err(|e| e.to_string())?;
        let stride = frame.info().stride()[p] as usize;
        for r in 0..rows {
            out.extend_from_slice(&data[r * stride..r * stride + row_bytes]);
        }
    }
    Ok(())
}
