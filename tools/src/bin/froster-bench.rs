//! froster-bench: throughput numbers (never timed tests): loader, pack formats, model encode, train and eval steps.
use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use froster_loader::decode::DecodeOptions;
use froster_loader::format::PixelFormat;
use froster_loader::list::read_list;
use froster_loader::{ClipSource, Loader, LoaderConfig, Mode, PackReader, PackSource, VideoSource};
use froster_model::froster::{prompt_ids, BARE};
use froster_model::{ClipConfig, Tokenizer};
use froster_pack::{BuildOptions, EncodeOptions, ListSet};
use froster_train::{build, distill};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

#[derive(Parser)]
#[command(
    name = "froster-bench",
    version,
    about = "Benchmarks that print numbers: loader, pack formats, model, train-step, eval-step"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Clips/s for train 8x16 at 224 and views/s for test, from packs and from videos, 1 thread and N threads.
    Loader {
        #[arg(long)]
        packs: PathBuf,
        /// Pack list to read (default: the first).
        #[arg(long)]
        pack_list: Option<String>,
        #[arg(long)]
        videos: Option<PathBuf>,
        #[arg(long)]
        list: Option<PathBuf>,
        #[arg(long)]
        threads: Option<usize>,
        /// Clips per measurement.
        #[arg(long, default_value_t = 48)]
        clips: usize,
        /// Also time train clips per video (1 thread), for the per-video comparison with the reference.
        #[arg(long)]
        per_video: bool,
        #[arg(long)]
        json: bool,
    },
    /// Bytes per frame and decode ms per frame of pack options on a folder of videos.
    Pack {
        videos: PathBuf,
        #[arg(long, default_value_t = 256)]
        short_side: u32,
    },
    /// Image/text encode throughput of a CLIP config.
    Model {
        #[arg(long, default_value = "tiny")]
        arch: String,
        #[arg(long, default_value_t = 16)]
        batch: i64,
        #[arg(long, default_value = "auto")]
        device: String,
    },
    /// One FROSTER training step: clips/s, ms/step, peak memory, MFU.
    TrainStep(StepArgs),
    /// One evaluation forward (classifier cached): clips/s, ms/step, MFU.
    EvalStep(StepArgs),
}

#[derive(clap::Args, Clone)]
struct StepArgs {
    #[arg(long, default_value = "tiny")]
    arch: String,
    #[arg(long, default_value_t = 8)]
    batch: i64,
    #[arg(long, default_value_t = 8)]
    frames: i64,
    #[arg(long, default_value_t = 200)]
    classes: usize,
    #[arg(long, default_value_t = 5)]
    steps: usize,
    #[arg(long, default_value = "auto")]
    device: String,
    /// The device's bf16 peak in TFLOP/s for MFU (default: 989 on CUDA (H100), none on CPU).
    #[arg(long)]
    peak_tflops: Option<f64>,
    /// Feed real clips from this pack (its first list) through the loader, and report the data-wait fraction;
    /// without it the input is synthetic.
    #[arg(long)]
    packs: Option<PathBuf>,
    /// Loader workers with --packs (default: all cores).
    #[arg(long)]
    workers: Option<usize>,
}

/// Batches for the step benchmark: real clips from a pack through the loader, or one synthetic batch.
enum Feed {
    Synthetic(Tensor, Tensor),
    Packs(Loader),
}

impl Feed {
    fn new(a: &StepArgs, crop: usize, device: Device) -> Result<Feed> {
        let Some(dir) = &a.packs else {
            let video = Tensor::randn([a.batch, 3, a.frames, crop as i64, crop as i64], (Kind::Float, device));
            return Ok(Feed::Synthetic(video, Tensor::zeros([a.batch], (Kind::Int64, device))));
        };
        let reader = Arc::new(PackReader::open(dir)?);
        let list =
            reader.manifest().lists.keys().next().cloned().ok_or_else(|| anyhow::anyhow!("the pack has no list"))?;
        let n = reader.list(&list)?.len();
        // Enough repeats of the list for warm-up plus the timed steps.
        let items: Vec<(u32, i64)> =
            reader.list(&list)?.iter().cycle().take(n.max(1) * 64).map(|&(v, _)| (v, 0)).collect();
        let src = Arc::new(PackSource::with_items(reader, items));
        let workers = a.workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
        let mode = Mode::Train { min_scale: crop, max_scale: crop * 8 / 7 };
        let sampling = froster_loader::SamplingConfig { num_frames: a.frames as usize, ..Default::default() };
        let cfg = LoaderConfig {
            batch_size: a.batch as usize,
            workers,
            prefetch: 4,
            mode,
            crop,
            sampling,
            ..Default::default()
        };
        Ok(Feed::Packs(Loader::new(src, cfg)?))
    }

    /// The next (video, labels) and the seconds spent waiting for it.
    fn next(&mut self, device: Device) -> Result<((Tensor, Tensor), f64)> {
        match self {
            Feed::Synthetic(v, l) => Ok(((v.shallow_clone(), l.shallow_clone()), 0.0)),
            Feed::Packs(loader) => {
                let t0 = Instant::now();
                let b = loader.next().ok_or_else(|| anyhow::anyhow!("the pack ran out of clips"))??;
                let wait = t0.elapsed().as_secs_f64();
                let video = froster_train::train::clips_to_tensor(&b, device);
                let labels = Tensor::zeros([b.labels.len() as i64], (Kind::Int64, device));
                loader.recycle(b);
                Ok(((video, labels), wait))
            }
        }
    }
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn rate(src: Arc<dyn ClipSource>, mode: Mode, threads: usize, clips: usize) -> Result<f64> {
    let cfg = LoaderConfig { batch_size: 1, workers: threads, prefetch: 4, mode, crop: 224, ..Default::default() };
    let t0 = Instant::now();
    let mut n = 0;
    let mut loader = Loader::new(src, cfg)?;
    while let Some(b) = loader.next() {
        let b = b?;
        n += b.labels.len();
        loader.recycle(b);
        if n >= clips {
            break;
        }
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

const TRAIN: Mode = Mode::Train { min_scale: 224, max_scale: 256 };
const TEST: Mode = Mode::Test { scale: 224 };

fn loader_bench(
    packs: PathBuf,
    pack_list: Option<String>,
    videos: Option<PathBuf>,
    list: Option<PathBuf>,
    threads: Option<usize>,
    clips: usize,
    per_video: bool,
    as_json: bool,
) -> Result<()> {
    let all = threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    let reader = Arc::new(PackReader::open(&packs)?);
    let name = pack_list
        .or_else(|| reader.manifest().lists.keys().next().cloned())
        .ok_or_else(|| anyhow::anyhow!("the pack has no list"))?;
    let pack: Arc<dyn ClipSource> = Arc::new(PackSource::new(reader.clone(), &name)?);
    let mut out = json!({"threads": all});
    for (label, t) in [("1t", 1), ("nt", all)] {
        out[format!("pack_train_clips_per_s_{label}")] = rate(pack.clone(), TRAIN, t, clips)?.into();
        out[format!("pack_test_views_per_s_{label}")] = rate(pack.clone(), TEST, t, clips)?.into();
    }
    out["pack_train_clips_per_s"] = out["pack_train_clips_per_s_nt"].clone();
    out["pack_test_views_per_s"] = out["pack_test_views_per_s_nt"].clone();
    if let (Some(root), Some(l)) = (videos, list) {
        let vs: Arc<dyn ClipSource> = Arc::new(VideoSource::new(root, read_list(&l)?));
        let few = (clips / 4).max(4);
        for (label, t) in [("1t", 1), ("nt", all)] {
            out[format!("video_train_clips_per_s_{label}")] = rate(vs.clone(), TRAIN, t, few)?.into();
            out[format!("video_test_views_per_s_{label}")] = rate(vs.clone(), TEST, t, few)?.into();
        }
        out["video_train_clips_per_s"] = out["video_train_clips_per_s_nt"].clone();
        out["video_test_views_per_s"] = out["video_test_views_per_s_nt"].clone();
    }
    if per_video {
        let mut rows = serde_json::Map::new();
        for (i, v) in reader.videos().iter().enumerate() {
            let src: Arc<dyn ClipSource> = Arc::new(PackSource::with_items(reader.clone(), vec![(i as u32, 0); 64]));
            rows.insert(v.id.clone(), rate(src, TRAIN, 1, 64)?.into());
        }
        out["pack_train_clips_per_s_1t_per_video"] = rows.into();
    }
    out["peak_rss_mb"] = peak_rss_mb().into();
    if as_json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

fn pack_bench(videos: PathBuf, short_side: u32) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("froster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut names: Vec<String> = std::fs::read_dir(&videos)?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    names.sort();
    let list = tmp.join("all.csv");
    std::fs::write(&list, names.iter().map(|n| format!("{n},0\n")).collect::<String>())?;
    println!(
        "| pixels | zstd | short side | bytes/frame | vs source | decode ms/frame | build videos/s | build frames/s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (pixel, level) in
        [(PixelFormat::I420, 1), (PixelFormat::I420, 3), (PixelFormat::I420, 9), (PixelFormat::Rgb, 3)]
    {
        let out = tmp.join(format!("{pixel:?}-{level}"));
        let decode = DecodeOptions { short_side, pixel, ..Default::default() };
        let o = BuildOptions {
            encode: EncodeOptions { decode, keep_every: 1, zstd_level: level },
            jobs: 2,
            ..BuildOptions::new(&videos, ListSet::read(std::slice::from_ref(&list))?, &out)
        };
        let s = froster_pack::build(&o)?;
        let r = PackReader::open(&out)?;
        let mut z = zstd::bulk::Decompressor::new()?;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let t0 = Instant::now();
        for i in 0..r.videos().len() {
            for f in 0..r.video(i).frames as usize {
                r.read_rgb(i, f, false, &mut z, &mut a, &mut b)?;
            }
        }
        let ms = t0.elapsed().as_secs_f64() * 1e3 / s.frames.max(1) as f64;
        println!(
            "| {pixel:?} | {level} | {short_side} | {:.0} | {:.1}x | {ms:.3} | {:.2} | {:.0} |",
            s.pack_bytes as f64 / s.frames.max(1) as f64,
            s.pack_bytes as f64 / s.source_bytes.max(1) as f64,
            s.ok as f64 / s.seconds,
            s.frames as f64 / s.seconds
        );
        std::fs::remove_dir_all(&out)?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn model_bench(arch: &str, batch: i64, device: Device) -> Result<()> {
    let cfg = ClipConfig::preset(arch)?;
    let vs = tch::nn::VarStore::new(device);
    let clip = froster_model::Clip::new(&vs.root(), &cfg);
    let img = Tensor::randn([batch, 3, cfg.image_resolution, cfg.image_resolution], (Kind::Float, device));
    let ids = prompt_ids(
        &Tokenizer::new(),
        &[8],
        &vec!["Playing guitar: a person plays a guitar".to_string(); batch as usize],
        77,
    )?
    .to_device(device);
    let time = |f: &dyn Fn()| {
        f();
        let t0 = Instant::now();
        for _ in 0..3 {
            f();
        }
        3.0 * batch as f64 / t0.elapsed().as_secs_f64()
    };
    let image = time(&|| {
        tch::no_grad(|| {
            let _ = clip.encode_image(&img, None).sum(Kind::Float).double_value(&[]);
        })
    });
    let text = time(&|| {
        tch::no_grad(|| {
            let _ = clip.encode_text(&ids).sum(Kind::Float).double_value(&[]);
        })
    });
    println!(
        "{}",
        json!({"arch": arch, "device": format!("{device:?}"), "batch": batch, "images_per_s": image, "texts_per_s": text})
    );
    Ok(())
}

/// Forward FLOPs (2 per multiply-add) of one frame through a vision tower, with temporal keys (3L) or not.
fn vision_flops(c: &ClipConfig, temporal: bool) -> f64 {
    let (l, w) = ((c.grid() * c.grid() + 1) as f64, c.vision_width as f64);
    let keys = if temporal { 3.0 * l } else { l };
    c.vision_layers as f64 * (2.0 * l * 12.0 * w * w + 2.0 * 2.0 * l * keys * w)
}

fn text_flops(c: &ClipConfig, prompts: f64, tokens: f64) -> f64 {
    let w = c.transformer_width as f64;
    prompts * c.transformer_layers as f64 * (2.0 * tokens * 12.0 * w * w + 2.0 * 2.0 * tokens * tokens * w)
}

fn step_bench(a: StepArgs, train: bool) -> Result<()> {
    let device = froster_tools::parse_device(&a.device)?;
    let cfg = ClipConfig::preset(&a.arch)?;
    tch::manual_seed(0);
    let clip_w = {
        let vs = tch::nn::VarStore::new(device);
        let _ = froster_model::Clip::new(&vs.root(), &cfg);
        froster_model::weights::snapshot(&vs)
    };
    let (vs, mut student) = build::student(&cfg, a.frames, &clip_w, None, device)?;
    let mut teacher = build::teacher(&cfg, &clip_w, device)?;
    // bf16 compute over f32 master weights on GPUs, as froster-train.
    let compute = device.is_cuda().then_some(Kind::BFloat16);
    student.clip.set_compute(compute);
    teacher.clip.set_compute(compute);
    let classes: Vec<String> =
        (0..a.classes).map(|i| format!("Action number {i}: a person performs action {i} in this video")).collect();
    let tok = Tokenizer::new();
    let ids = prompt_ids(&tok, &[8, BARE], &classes, 77)?.to_device(device);
    let tokens = (ids.argmax(-1, false).max().int64_value(&[]) + 1) as f64;
    let teacher_text = tch::no_grad(|| teacher.clip.encode_text(&ids)).view([2, a.classes as i64, -1]);
    let r = cfg.image_resolution;
    let mut feed = Feed::new(&a, r as usize, device)?;
    let mut opt = froster_train::adamw::AdamW::new(vs.variables().into_iter().collect(), 0.01);
    let (_, cls) = froster_train::eval::eval_classifier(&student.clip, &tok, &classes, device)?;
    let run = |opt: &mut froster_train::adamw::AdamW, video: &Tensor, labels: &Tensor| -> f64 {
        if train {
            opt.zero_grad();
            let f = distill::forward(&student, &teacher, video, labels, &ids, &teacher_text, Default::default());
            f.loss.backward();
            let _ = opt.clip_grad_norm(1.0);
            opt.step(1e-5);
            f.loss.double_value(&[])
        } else {
            froster_train::eval::view_logits(&student.clip, a.frames, video, &cls).sum(Kind::Float).double_value(&[])
        }
    };
    let ((v, l), _) = feed.next(device)?;
    run(&mut opt, &v, &l);
    let t0 = Instant::now();
    let mut wait = 0.0;
    for _ in 0..a.steps {
        let ((v, l), w) = feed.next(device)?;
        wait += w;
        run(&mut opt, &v, &l);
    }
    let total = t0.elapsed().as_secs_f64();
    let secs = total / a.steps as f64;
    let frames = (a.batch * a.frames) as f64;
    let flops = if train {
        // student vision fwd+bwd (3x), teacher vision fwd, student text fwd+bwd over 2 templates (teacher text cached)
        3.0 * frames * vision_flops(&cfg, true)
            + frames * vision_flops(&cfg, false)
            + 3.0 * text_flops(&cfg, ids.size()[0] as f64, tokens)
    } else {
        frames * vision_flops(&cfg, true)
    };
    let peak = a.peak_tflops.or(if device.is_cuda() { Some(989.0) } else { None });
    let mfu = peak.map(|p| flops / secs / (p * 1e12));
    if a.steps == 0 {
        bail!("--steps must be positive");
    }
    println!(
        "{}",
        json!({"bench": if train {"train-step"} else {"eval-step"}, "arch": a.arch, "device": format!("{device:?}"), "batch": a.batch,
               "precision": if compute.is_some() {"bf16"} else {"f32"},
               "clips_per_s": a.batch as f64 / secs, "ms_per_step": secs * 1e3, "peak_rss_gb": peak_rss_mb() / 1024.0,
               "tflop_per_step": flops / 1e12, "mfu": mfu, "data_wait": wait / total,
               "input": if a.packs.is_some() {"packs"} else {"synthetic"}})
    );
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Loader { packs, pack_list, videos, list, threads, clips, per_video, json } => {
            loader_bench(packs, pack_list, videos, list, threads, clips, per_video, json)
        }
        Cmd::Pack { videos, short_side } => pack_bench(videos, short_side),
        Cmd::Model { arch, batch, device } => model_bench(&arch, batch, froster_tools::parse_device(&device)?),
        Cmd::TrainStep(a) => step_bench(a, true),
        Cmd::EvalStep(a) => step_bench(a, false),
    }
}
