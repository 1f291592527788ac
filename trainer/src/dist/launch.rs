//! The built-in launcher: `--nproc-per-node N [--nnodes M --node-rank R --master-addr A --master-port P]` starts N
//! copies of the running binary with torchrun's environment, and stops them all when one fails, naming it.
use crate::error::{Error, Result};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// Set in the ranks the launcher starts, so that they train instead of launching again.
pub const LAUNCHED: &str = "FROSTER_LAUNCHED";

/// Where the ranks of this machine sit in the world.
#[derive(Debug, Clone, clap::Args)]
pub struct LaunchArgs {
    /// Start this many ranks on this machine (one per GPU), as `torchrun --nproc-per-node`.
    #[arg(long, value_name = "N")]
    pub nproc_per_node: Option<usize>,
    /// Machines in the run (with --nproc-per-node).
    #[arg(long, default_value_t = 1, requires = "nproc_per_node")]
    pub nnodes: usize,
    /// This machine's index, 0..nnodes (with --nproc-per-node).
    #[arg(long, default_value_t = 0, requires = "nproc_per_node")]
    pub node_rank: usize,
    /// The host of rank 0, which all ranks reach [default: 127.0.0.1].
    #[arg(long, requires = "nproc_per_node")]
    pub master_addr: Option<String>,
    /// Rank 0's store port [default: a free port on one machine, 29500 on many].
    #[arg(long, requires = "nproc_per_node")]
    pub master_port: Option<u16>,
}

impl LaunchArgs {
    /// Whether this process should launch ranks (and not train itself).
    pub fn wants_launch(&self) -> bool {
        self.nproc_per_node.is_some() && std::env::var_os(LAUNCHED).is_none()
    }
}

/// Starts the ranks of this machine (the running binary with its own arguments) and waits for them. When one
/// fails, the others get `grace` to stop by themselves (they see the failure in their next collective) and are
/// then killed; the error names the failed rank.
pub fn launch(args: &LaunchArgs, grace: Duration) -> Result<()> {
    let n = args.nproc_per_node.unwrap_or(1);
    if n == 0 || args.nnodes == 0 || args.node_rank >= args.nnodes {
        return Err(Error::Config(format!(
            "--nproc-per-node {n} --nnodes {} --node-rank {}: need N >= 1 and node rank below nnodes",
            args.nnodes, args.node_rank
        )));
    }
    let addr = args.master_addr.clone().unwrap_or_else(|| "127.0.0.1".into());
    let port = match (args.master_port, args.nnodes) {
        (Some(p), _) => p,
        (None, 1) => free_port()?,
        (None, _) => 29500,
    };
    let exe = std::env::current_exe().map_err(|source| Error::Io { path: "current executable".into(), source })?;
    let world = n * args.nnodes;
    let mut ranks = Vec::with_capacity(n);
    for local in 0..n {
        let rank = args.node_rank * n + local;
        let child = Command::new(&exe)
            .args(std::env::args_os().skip(1))
            .env(LAUNCHED, "1")
            .env("RANK", rank.to_string())
            .env("LOCAL_RANK", local.to_string())
            .env("WORLD_SIZE", world.to_string())
            .env("LOCAL_WORLD_SIZE", n.to_string())
            .env("MASTER_ADDR", &addr)
            .env("MASTER_PORT", port.to_string())
            .spawn()
            .map_err(|source| Error::Io { path: exe.clone(), source })?;
        eprintln!("launched rank {rank} of {world} (pid {}), store {addr}:{port}", child.id());
        ranks.push((rank, child));
    }
    supervise(ranks, grace)
}

fn supervise(mut ranks: Vec<(usize, Child)>, grace: Duration) -> Result<()> {
    let mut done = vec![false; ranks.len()];
    loop {
        let mut failed = None;
        for (i, (rank, child)) in ranks.iter_mut().enumerate() {
            if done[i] {
                continue;
            }
            match child.try_wait() {
                Ok(Some(s)) if s.success() => done[i] = true,
                Ok(Some(s)) => failed = Some((*rank, s)),
                Ok(None) => {}
                Err(source) => return Err(Error::Io { path: format!("rank {rank}'s process").into(), source }),
            }
        }
        if let Some((rank, status)) = failed {
            return stop_all(ranks, rank, status, grace);
        }
        if done.iter().all(|d| *d) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Gives the surviving ranks `grace` to exit, kills what is left, and names the rank that failed first.
fn stop_all(mut ranks: Vec<(usize, Child)>, failed: usize, status: ExitStatus, grace: Duration) -> Result<()> {
    let how = describe(status);
    eprintln!("rank {failed} {how}; stopping the other ranks");
    let t0 = Instant::now();
    for (_, child) in ranks.iter_mut() {
        while t0.elapsed() < grace && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    Err(Error::RankFailed { rank: failed, how })
}

fn describe(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(9)) => "was killed (signal 9, SIGKILL: out of memory or kill -9)".into(),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => format!("ended: {s}"),
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|source| Error::Io { path: "a free local port".into(), source })?;
    l.local_addr().map(|a| a.port()).map_err(|source| Error::Io { path: "a free local port".into(), source })
}
