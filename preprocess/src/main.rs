//! froster-pack: build, scan, verify, inspect, replace and compact FROSTER video packs.
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use froster_loader::format::{Codec, PixelFormat};
use froster_loader::DecodeOptions;
use froster_pack::ops;
use froster_pack::{BuildOptions, Dataset, EncodeOptions, ListSet};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "froster-pack",
    version,
    about = "Decode videos once into sharded, checksummed zstd packs for FROSTER training"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Hide progress bars.
    #[arg(long, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Cmd {
    /// Decode every video of the lists into a pack (resumable: rerun the same command after an interruption).
    ///
    /// Without --list, the lists are found in ROOT by convention and printed before packing: the reference's
    /// train*/val*/test*.csv, Kinetics split folders with annotation CSVs, UCF101 (ucfTrainTestlist/), HMDB51
    /// (*_test_splitN.txt), Something-Something v2 (labels.json, train.json, validation.json), or class folders.
    Build {
        /// Dataset root: list paths are relative to it (the reference's DATA.PATH_PREFIX).
        root: PathBuf,
        #[command(flatten)]
        lists: ListArgs,
        /// Output pack folder (--packs is the same) [default: packs/<ROOT's folder name>].
        #[arg(long, visible_alias = "packs")]
        out: Option<PathBuf>,
        /// Downscale so the short side is this many pixels (0 keeps the native size).
        #[arg(long, default_value_t = 256)]
        short_side: u32,
        /// Store only every Nth frame; the loader maps to the nearest stored frame.
        #[arg(long, default_value_t = 1)]
        keep_every: u32,
        /// Parallel decoders [default: all cores].
        #[arg(long, alias = "jobs")]
        workers: Option<usize>,
        /// Start a new shard past this many bytes.
        #[arg(long, default_value_t = 1 << 30)]
        shard_size: u64,
        /// Stored pixels: i420 (YUV 4:2:0, half the bytes) or rgb.
        #[arg(long, default_value = "i420", value_parser = parse_pixel)]
        pixel: PixelFormat,
        /// zstd level (1-19) of the lossless codec.
        #[arg(long, default_value_t = 3)]
        zstd_level: i32,
        /// compact = h264 (x264 in closed GOPs of 4 frames, every frame kept at --psnr-floor or above: about
        /// 2-3x the sources' size), lossless (the decoder's pixels, zstd: exact, about 26x), temporal (exact too,
        /// zstd of each frame's difference from the previous one, a key frame every 4: about 21x) or jpeg (each
        /// frame a JPEG at --psnr-floor: about 8x). A pack folder keeps one codec.
        #[arg(long, default_value = "compact", value_parser = parse_codec)]
        codec: Codec,
        /// h264 and jpeg: the PSNR (dB) against the lossless RGB that every stored frame keeps; a video whose
        /// frame cannot fails into failed.csv with the reason.
        #[arg(long, default_value_t = 40.0)]
        psnr_floor: f64,
        /// Exit non-zero if any video fails.
        #[arg(long)]
        strict: bool,
    },
    /// Decode-check the listed videos without writing a pack; lists the ones that fail, with the reason.
    ///
    /// Without --list, the lists are found in ROOT as `build` finds them.
    Scan {
        /// Dataset root: list paths are relative to it.
        root: PathBuf,
        #[command(flatten)]
        lists: ListArgs,
        /// Parallel decoders [default: all cores].
        #[arg(long, alias = "jobs")]
        workers: Option<usize>,
    },
    /// Check every checksum and that every frame decompresses; names the video and frame of each failure.
    Verify {
        #[command(flatten)]
        pack: PackDir,
    },
    /// Per-video frames, fps, size, stride and bytes, plus totals.
    Inspect {
        #[command(flatten)]
        pack: PackDir,
        /// Print JSON (every video's entry, codec facts and totals).
        #[arg(long)]
        json: bool,
        /// Only this video.
        #[arg(long)]
        video: Option<String>,
        /// Write a stored frame as PNG: --dump-frame VIDEO_ID INDEX OUT.png
        #[arg(long, num_args = 3, value_names = ["VIDEO_ID", "INDEX", "OUT"])]
        dump_frame: Option<Vec<String>>,
    },
    /// Re-decode NEW_FILE and atomically swap it in for VIDEO_ID (e.g. a corrupted download).
    ///
    /// `froster-pack replace PACK VIDEO_ID NEW_FILE`, or `froster-pack replace VIDEO_ID NEW_FILE --packs PACK`.
    Replace {
        /// The pack (unless --packs gives it), the video's id as listed, and the good copy: [PACK] VIDEO_ID NEW_FILE.
        #[arg(num_args = 2..=3, value_names = ["PACK", "VIDEO_ID", "NEW_FILE"], required = true)]
        args: Vec<String>,
        /// The pack folder.
        #[arg(long)]
        packs: Option<PathBuf>,
    },
    /// Rewrite live records into one shard, reclaiming the space of replaced videos.
    Compact {
        #[command(flatten)]
        pack: PackDir,
    },
}

/// The pack folder: `PACK`, or `--packs PACK` as every other tool names it.
#[derive(clap::Args)]
struct PackDir {
    /// The pack folder.
    #[arg(value_name = "PACK", required_unless_present = "packs", conflicts_with = "packs")]
    pack: Option<PathBuf>,
    /// The pack folder (the same as PACK).
    #[arg(long)]
    packs: Option<PathBuf>,
}

impl PackDir {
    fn path(self) -> PathBuf {
        self.pack.or(self.packs).unwrap_or_default()
    }
}

#[derive(clap::Args)]
struct ListArgs {
    /// A list in the reference format (`path,label` per line); repeat for train/val/test. Kept by file stem.
    /// Without it, the dataset's own layout is discovered.
    #[arg(long = "list")]
    lists: Vec<PathBuf>,
    /// The official split of UCF101 or HMDB51 to use when discovering (1, 2 or 3).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3))]
    split: u32,
}

/// The folder that list paths are relative to, the lists, and the discovered dataset when no list was given
/// (printed, so that the user sees what will be packed).
fn resolve(root: PathBuf, args: ListArgs, strict: bool) -> Result<(PathBuf, ListSet, Option<Dataset>)> {
    if !args.lists.is_empty() {
        let lists = if strict { ListSet::read_strict(&args.lists)? } else { ListSet::read(&args.lists)? };
        return Ok((root, lists, None));
    }
    let d = froster_pack::discover(&root, args.split)?;
    print!("{d}");
    if d.lists.iter().all(|l| l.items.is_empty()) {
        bail!("{}: the {} layout names no video that is on disk", root.display(), d.layout);
    }
    Ok((d.root.clone(), d.list_set(), Some(d)))
}

/// `packs/<name of ROOT>`, for `build ROOT` without --out.
fn default_out(root: &Path) -> Result<PathBuf> {
    let abs = root.canonicalize().with_context(|| format!("reading {}", root.display()))?;
    let name = abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "dataset".into());
    Ok(PathBuf::from("packs").join(name))
}

fn parse_codec(s: &str) -> Result<Codec, String> {
    match s {
        "compact" | "h264" => Ok(Codec::H264),
        "lossless" => Ok(Codec::Lossless),
        "temporal" => Ok(Codec::Temporal),
        "jpeg" => Ok(Codec::Jpeg),
        _ => Err(format!("unknown codec '{s}' (compact = h264, lossless, temporal or jpeg)")),
    }
}

fn parse_pixel(s: &str) -> Result<PixelFormat, String> {
    match s {
        "i420" => Ok(PixelFormat::I420),
        "rgb" => Ok(PixelFormat::Rgb),
        _ => Err(format!("unknown pixel format '{s}' (i420 or rgb)")),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

fn main() -> std::process::ExitCode {
    froster_loader::exit_code(run())
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let progress = !cli.quiet;
    match cli.cmd {
        Cmd::Build {
            root,
            lists,
            out,
            short_side,
            keep_every,
            workers,
            shard_size,
            pixel,
            zstd_level,
            codec,
            psnr_floor,
            strict,
        } => {
            if !(20.0..=99.0).contains(&psnr_floor) {
                bail!("--psnr-floor {psnr_floor}: give a floor between 20 and 99 dB");
            }
            if keep_every == 0 || !(1..=22).contains(&zstd_level) {
                bail!("--keep-every must be >= 1 and --zstd-level in 1..=22");
            }
            let out = match out {
                Some(o) => o,
                None => default_out(&root)?,
            };
            let (root, lists, found) = resolve(root, lists, false)?;
            println!("packing {} videos into {}", lists.paths.len(), out.display());
            let decode = DecodeOptions { short_side, pixel, ..Default::default() };
            let encode = EncodeOptions { decode, keep_every, zstd_level, codec, psnr_floor };
            let opts = BuildOptions {
                root,
                lists,
                out: out.clone(),
                encode,
                jobs: workers.unwrap_or_else(cores),
                shard_size,
                progress,
                classes: found.as_ref().and_then(|d| d.classes.clone()),
            };
            let s = froster_pack::build(&opts)?;
            println!("{s}");
            if let Some(d) = found.filter(|d| !d.unlisted.is_empty()) {
                let text: String = d.unlisted.iter().map(|p| format!("{p}\n")).collect();
                std::fs::write(out.join("unlisted.csv"), text).with_context(|| format!("writing {}", out.display()))?;
                println!("{} videos on disk are in no list: {}", d.unlisted.len(), out.join("unlisted.csv").display());
            }
            if s.warned > 0 {
                println!("videos packed with warnings are listed in {}", out.join("warnings.csv").display());
            }
            if s.failed > 0 {
                println!("failed videos are listed in {}", out.join("failed.csv").display());
                if strict {
                    bail!("{} videos failed (--strict)", s.failed);
                }
            }
        }
        Cmd::Scan { root, lists, workers } => {
            let (root, lists, _) = resolve(root, lists, true)?;
            let r = ops::scan(&root, &lists, workers.unwrap_or_else(cores), progress)?;
            let (n, failed) = (r.videos, &r.failed);
            for f in failed {
                println!("{}: {}", f.path, f.reason);
            }
            for (path, w) in &r.warnings {
                println!("{path}: warning: {w}");
            }
            let warned = match r.warnings.len() {
                0 => String::new(),
                w => format!("; {w} would pack with a warning"),
            };
            println!("scanned {n} videos: {} ok, {} failed{warned}", n - failed.len(), failed.len());
            if !failed.is_empty() {
                std::process::exit(1);
            }
        }
        Cmd::Verify { pack } => {
            let pack = pack.path();
            let problems = ops::verify(&pack, progress)?;
            for p in &problems {
                println!("{p}");
            }
            if !problems.is_empty() {
                bail!("{}: {} bad frames", pack.display(), problems.len());
            }
            println!("{}: all checksums and frames ok", pack.display());
        }
        Cmd::Inspect { pack, json, video, dump_frame } => {
            let pack = pack.path();
            if let Some(d) = dump_frame {
                let index: usize =
                    d[1].parse().map_err(|_| anyhow::anyhow!("frame index '{}' is not a number", d[1]))?;
                ops::dump_frame(&pack, &d[0], index, &PathBuf::from(&d[2]))?;
                println!("wrote {}", d[2]);
                return Ok(());
            }
            let r = ops::inspect(&pack, video.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_report(&r);
            }
        }
        Cmd::Replace { args, packs } => {
            let (pack, video_id, new_file) = match (args.as_slice(), packs) {
                ([p, v, f], None) => (PathBuf::from(p), v.clone(), PathBuf::from(f)),
                ([v, f], Some(p)) => (p, v.clone(), PathBuf::from(f)),
                _ => bail!("replace takes PACK VIDEO_ID NEW_FILE, or VIDEO_ID NEW_FILE with --packs PACK"),
            };
            let dead = ops::replace(&pack, &video_id, &new_file)?;
            println!(
                "replaced {video_id}; {:.1} MB now unused (run `froster-pack compact` to reclaim)",
                dead as f64 / 1e6
            );
        }
        Cmd::Compact { pack } => {
            let pack = pack.path();
            let freed = ops::compact(&pack)?;
            println!("compacted {}: {:.1} MB reclaimed", pack.display(), freed as f64 / 1e6);
        }
    }
    Ok(())
}

fn print_report(r: &ops::PackReport) {
    println!("{:<50} {:>7} {:>10} {:>9} {:>6} {:>10}", "video", "frames", "fps", "size", "stride", "bytes");
    for v in &r.videos {
        println!(
            "{:<50} {:>7} {:>10} {:>9} {:>6} {:>10}",
            v.id,
            v.frames,
            v.fps,
            format!("{}x{}", v.width, v.height),
            v.stride,
            v.bytes
        );
    }
    let ratio = r.live_bytes as f64 / r.source_bytes.max(1) as f64;
    println!(
        "total: {} videos, {} frames, {:.1} MB live in {:.1} MB of shards, source {:.1} MB ({ratio:.2}x), pixel {}, \
         codec {}, {} failed",
        r.total_videos,
        r.total_frames,
        r.live_bytes as f64 / 1e6,
        r.shard_bytes as f64 / 1e6,
        r.source_bytes as f64 / 1e6,
        manifest_name(&r.pixel),
        manifest_name(&r.codec),
        r.failed
    );
    for (name, n) in &r.lists {
        println!("list {name}: {n} clips");
    }
    for v in r.videos.iter().filter(|v| v.warning.is_some()) {
        println!("warning: {}: {}", v.id, v.warning.as_deref().unwrap_or_default());
    }
}

/// How the manifest spells a value (`h264`, `i420`), for the human-readable report.
fn manifest_name(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default().trim_matches('"').to_string()
}
