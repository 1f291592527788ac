//! froster-eval: top-1/top-5 over multi-view tests, and the paper's base-to-novel and cross-dataset protocols.
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use froster_loader::read_classes;
use froster_loader::PackReader;
use froster_tools::evaluate::{evaluate, harmonic_mean, mean_std, write_outputs, EvalOptions, EvalResult};
use froster_tools::run::{checkpoint_and_config, TestFlags};
use froster_train::dist::launch::{launch, LaunchArgs};
use froster_train::dist::{DistOptions, World};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Two entry points: `froster-eval --packs ... --list ...` (one list) and `froster-eval protocol b2n|cross ...`.
#[derive(Parser)]
#[command(
    name = "froster-eval",
    version,
    about = "Evaluate a FROSTER checkpoint on packs (multi-view, summed logits as the reference)",
    after_help = "Protocols: `froster-eval protocol b2n --help` (base-to-novel) and `froster-eval protocol cross --help` (cross-dataset)."
)]
struct OneCli {
    #[command(flatten)]
    one: One,
}

#[derive(Parser)]
#[command(name = "froster-eval", version)]
struct ProtocolCli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args)]
struct Common {
    /// Pack folder made by `froster-pack build`.
    #[arg(long)]
    packs: PathBuf,
    /// Checkpoint: ours, FROSTER/Open-VCLIP .pth, OpenAI ViT-B-16.pt or safetensors; or a run folder (its newest
    /// epoch checkpoint). A run's config.toml gives the test settings that no flag sets.
    #[arg(long)]
    checkpoint: PathBuf,
    #[command(flatten)]
    test: TestFlags,
    /// Views per batch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Loader threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Weight patching: R * original CLIP (--clip) + (1 - R) * the checkpoint, on the fly.
    #[arg(long, requires = "clip")]
    patch_ratio: Option<f64>,
    /// The original CLIP for --patch-ratio.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Output folder for CSVs, the chart and JSON.
    #[arg(long, default_value = "out/eval")]
    out: PathBuf,
    /// Hide the progress bar.
    #[arg(long)]
    quiet: bool,
    /// Refuse a list whose videos did not all pack (they are in the pack's failed.csv).
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    launch: LaunchArgs,
    /// Seconds a rank waits for a dead or hung peer before the evaluation stops with an error.
    #[arg(long, default_value_t = 300)]
    dist_timeout: u64,
}

#[derive(Args)]
struct One {
    #[command(flatten)]
    common: Common,
    /// The pack list to evaluate (e.g. val, test).
    #[arg(long)]
    list: String,
    /// Class names: a rephrased JSON ({"0": "Name: description"}) or a text file, one per line.
    #[arg(long)]
    classes: PathBuf,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a paper protocol end to end.
    #[command(subcommand)]
    Protocol(Protocol),
}

#[derive(Subcommand)]
enum Protocol {
    /// Base-to-novel: base = list `val` with train_rephrased.json, novel = list `test` with test_rephrased.json.
    B2n {
        #[command(flatten)]
        common: Common,
        /// The protocol folder (e.g. zs_label_db/B2N_k400) holding train_rephrased.json and test_rephrased.json.
        #[arg(long)]
        protocol: PathBuf,
        /// The pack list of the base classes.
        #[arg(long, default_value = "val")]
        base_list: String,
        /// The pack list of the novel classes.
        #[arg(long, default_value = "test")]
        novel_list: String,
    },
    /// Cross-dataset: the full list and each split; full score and mean +- std over the splits.
    Cross {
        #[command(flatten)]
        common: Common,
        /// Dataset name for the table (ucf101, hmdb51, k600).
        #[arg(long, default_value = "dataset")]
        name: String,
        /// Class file of the full list (and of the splits unless --split-classes is given).
        #[arg(long)]
        classes: PathBuf,
        /// The full-test list in the pack (omit if none).
        #[arg(long)]
        full: Option<String>,
        /// A split's list in the pack (repeat for split1..3).
        #[arg(long = "split", required = true)]
        splits: Vec<String>,
        /// Per-split class files (K600's splits have their own), in --split order.
        #[arg(long = "split-classes")]
        split_classes: Vec<PathBuf>,
    },
}

struct Ctx {
    reader: Arc<PackReader>,
    /// Owns the model's variables.
    _vs: tch::nn::VarStore,
    clip: froster_model::Clip,
    opts: EvalOptions,
    out: PathBuf,
}

/// The model and settings of this rank (the only one, or one of a sharded evaluation); None when this process
/// only launched the ranks.
fn context(c: &Common) -> Result<Option<Ctx>> {
    if c.launch.wants_launch() {
        launch(&c.launch, Duration::from_secs(10))?;
        return Ok(None);
    }
    let dist = DistOptions { backend: None, timeout: Duration::from_secs(c.dist_timeout.max(1)) };
    let (world, device) = World::from_env(froster_model::parse_device(&c.device)?, dist)?;
    let patch = match (c.patch_ratio, &c.clip) {
        (Some(r), Some(p)) => Some((p.as_path(), r)),
        _ => None,
    };
    let (checkpoint, run) = checkpoint_and_config(&c.checkpoint)?;
    let settings = c.test.resolve(run.as_ref())?;
    let (vs, clip) = froster_tools::eval_model(&checkpoint, patch, device)?;
    let reader = Arc::new(PackReader::open(&c.packs)?);
    let (progress, strict, world) = (!c.quiet, c.strict, Arc::new(world));
    let opts = EvalOptions { settings, batch: c.batch, workers: c.workers, device, progress, strict, world };
    Ok(Some(Ctx { reader, _vs: vs, clip, opts, out: c.out.clone() }))
}

fn classes(p: &Path) -> Result<Vec<String>> {
    Ok(read_classes(p)?)
}

fn eval_list(ctx: &Ctx, list: &str, classes: &[String], sub: &str) -> Result<EvalResult> {
    let r = evaluate(ctx.reader.clone(), list, &ctx.clip, classes, &ctx.opts)
        .with_context(|| format!("evaluating list '{list}'"))?;
    if !ctx.opts.world.is_main() {
        return Ok(r);
    }
    write_outputs(&ctx.out.join(sub), &r, classes)?;
    let name = if sub.is_empty() { list } else { sub };
    println!("{name}: {}", r.coverage());
    println!("{name}: top-1 {:.2}  top-5 {:.2}  ({} videos x {} views)", r.top1, r.top5, r.videos, r.views_per_video);
    if !r.skipped.is_empty() {
        eprintln!("{sub}: skipped {} unreadable views, e.g. {}", r.skipped.len(), r.skipped[0]);
    }
    Ok(r)
}

fn main() -> std::process::ExitCode {
    froster_loader::exit_code(run())
}

fn run() -> Result<()> {
    if std::env::args().len() == 1 {
        // No arguments: the help, which names both entry points (one list, and `protocol`).
        use clap::CommandFactory;
        OneCli::command().print_help()?;
        std::process::exit(2);
    }
    let protocol = std::env::args().nth(1).is_some_and(|a| a == "protocol");
    let (cmd, one) = if protocol { (Some(ProtocolCli::parse().cmd), None) } else { (None, Some(OneCli::parse().one)) };
    match (cmd, one) {
        (Some(Cmd::Protocol(Protocol::B2n { common, protocol, base_list, novel_list })), _) => {
            let Some(ctx) = context(&common)? else { return Ok(()) };
            let base = eval_list(&ctx, &base_list, &classes(&protocol.join("train_rephrased.json"))?, "base")?;
            let novel = eval_list(&ctx, &novel_list, &classes(&protocol.join("test_rephrased.json"))?, "novel")?;
            let hm = harmonic_mean(base.top1, novel.top1);
            if !ctx.opts.world.is_main() {
                return Ok(());
            }
            println!(
                "\n| protocol | Base | Novel | HM |\n|---|---|---|---|\n| base-to-novel | {:.2} | {:.2} | {hm:.2} |",
                base.top1, novel.top1
            );
            let j = serde_json::json!({"protocol": "b2n", "base": base.top1, "novel": novel.top1, "hm": hm, "base_top5": base.top5, "novel_top5": novel.top5});
            std::fs::write(ctx.out.join("b2n.json"), serde_json::to_string_pretty(&j)?)?;
        }
        (Some(Cmd::Protocol(Protocol::Cross { common, name, classes: cfile, full, splits, split_classes })), _) => {
            let Some(ctx) = context(&common)? else { return Ok(()) };
            let all = classes(&cfile)?;
            let full_top1 = match &full {
                Some(l) => Some(eval_list(&ctx, l, &all, "full")?.top1),
                None => None,
            };
            let mut accs = Vec::new();
            for (i, s) in splits.iter().enumerate() {
                let cls = match split_classes.get(i) {
                    Some(p) => classes(p)?,
                    None => all.clone(),
                };
                accs.push(eval_list(&ctx, s, &cls, &format!("split{}", i + 1))?.top1);
            }
            if !ctx.opts.world.is_main() {
                return Ok(());
            }
            let (m, sd) = mean_std(&accs);
            let full_s = full_top1.map(|f| format!("{f:.2}")).unwrap_or("-".into());
            println!(
                "\n| dataset | full | splits (mean +- std) |\n|---|---|---|\n| {name} | {full_s} | {m:.2} +- {sd:.2} |"
            );
            let j = serde_json::json!({"protocol": "cross", "dataset": name, "full": full_top1, "splits": accs, "mean": m, "std": sd});
            std::fs::write(ctx.out.join(format!("cross_{name}.json")), serde_json::to_string_pretty(&j)?)?;
        }
        (_, Some(one)) => {
            let Some(ctx) = context(&one.common)? else { return Ok(()) };
            let cls = classes(&one.classes)?;
            eval_list(&ctx, &one.list, &cls, "")?;
            if ctx.opts.world.is_main() {
                println!("outputs in {}", ctx.out.display());
            }
        }
        (None, None) => unreachable!("one of the two parsers ran"),
    }
    Ok(())
}
