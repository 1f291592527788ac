//! Data parallelism as the reference's DDP, over torch's own c10d (froster-shim): the world from torchrun's
//! environment, rank 0's weights broadcast, gradients averaged in buckets, evaluation gathered; and a built-in
//! launcher ([`launch`]) for those without Python.
mod heartbeat;
pub mod launch;

use crate::error::{Error, Result};
use froster_loader::Shard;
use froster_shim::{Backend, Group};
use heartbeat::Heartbeat;
use std::sync::Arc;
use std::time::Duration;
use tch::{Device, Kind, Tensor};

/// Gradients are all-reduced in buckets of about this many bytes (torch DDP's are 25 MB; a few MB lets the
/// first buckets' transfers run while later ones are still being flattened).
const BUCKET_BYTES: i64 = 4 << 20;

/// How to join a world.
#[derive(Debug, Clone, Copy)]
pub struct DistOptions {
    /// The collective engine; None: NCCL on CUDA, Gloo on the CPU.
    pub backend: Option<Backend>,
    /// How long a rendezvous or a collective may wait for a peer before the run stops.
    pub timeout: Duration,
}

impl Default for DistOptions {
    fn default() -> Self {
        DistOptions { backend: None, timeout: Duration::from_secs(300) }
    }
}

/// This process's place among the ranks of one run.
pub struct World {
    /// This process's rank, 0..size.
    pub rank: usize,
    /// The number of ranks.
    pub size: usize,
    /// Its rank on this machine (the GPU it uses).
    pub local_rank: usize,
    group: Option<Arc<Group>>,
    _heartbeat: Option<Heartbeat>,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "World {{ rank: {}, size: {}, group: {} }}", self.rank, self.size, self.group.is_some())
    }
}

impl World {
    /// One process, no group.
    pub fn single() -> Self {
        World { rank: 0, size: 1, local_rank: 0, group: None, _heartbeat: None }
    }

    /// The world torchrun (or `--nproc-per-node`) describes in RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
    /// MASTER_PORT; one process when WORLD_SIZE is not set. `device` picks the default backend and, for CUDA,
    /// the GPU: LOCAL_RANK's.
    pub fn from_env(device: Device, opts: DistOptions) -> Result<(Self, Device)> {
        let Some(size) = env_number("WORLD_SIZE")? else { return Ok((World::single(), device)) };
        let rank = env_number("RANK")?.ok_or_else(|| bad_env("RANK", "is not set but WORLD_SIZE is"))?;
        let local_rank = env_number("LOCAL_RANK")?.unwrap_or(rank);
        if size == 0 || rank >= size {
            return Err(bad_env("RANK", &format!("{rank} is not below WORLD_SIZE {size}")));
        }
        let addr = std::env::var("MASTER_ADDR").unwrap_or_else(|_| "127.0.0.1".into());
        let port = env_number("MASTER_PORT")?.unwrap_or(29500);
        let port = u16::try_from(port).map_err(|_| bad_env("MASTER_PORT", &format!("{port} is not a port")))?;
        let device = match device {
            Device::Cuda(_) => Device::Cuda(local_rank),
            d => d,
        };
        let backend = opts.backend.unwrap_or(match device {
            Device::Cuda(_) => Backend::Nccl,
            _ => Backend::Gloo,
        });
        let group = Arc::new(Group::new(backend, &addr, port, rank, size, opts.timeout)?);
        let heartbeat = Some(Heartbeat::start(group.clone()));
        Ok((World { rank, size, local_rank, group: Some(group), _heartbeat: heartbeat }, device))
    }

    /// Whether this rank writes the run's files (checkpoints, logs, config.toml) and prints.
    pub fn is_main(&self) -> bool {
        self.rank == 0
    }

    /// Whether a process group runs (also at a world of 1 when launched so).
    pub fn is_distributed(&self) -> bool {
        self.group.is_some()
    }

    /// This rank's part of a dataset: DistributedSampler's.
    pub fn shard(&self) -> Shard {
        Shard { rank: self.rank, world: self.size }
    }

    /// The process group, if any.
    pub fn group(&self) -> Option<&Group> {
        self.group.as_deref()
    }

    /// A failed collective, with the ranks whose heartbeats stopped (dead or hung) named when there are any.
    fn blame(&self, e: froster_shim::Error) -> Error {
        let Some(g) = &self.group else { return Error::Dist(e) };
        match heartbeat::silent_ranks(g) {
            None => Error::PeerGone { ranks: vec![0], why: "its store is unreachable".into(), source: Box::new(e) },
            Some(r) if !r.is_empty() => {
                Error::PeerGone { ranks: r, why: "stopped responding".into(), source: Box::new(e) }
            }
            Some(_) => Error::Dist(e),
        }
    }

    /// Every rank learns whether every rank got here with Ok: a rank that failed keeps its own error, the others
    /// get one naming the failed ranks, so that no rank waits for a peer that has already given up.
    pub fn agree<T>(&self, r: Result<T>) -> Result<T> {
        let Some(g) = &self.group else { return r };
        let flags = Tensor::zeros([self.size as i64], (Kind::Float, Device::Cpu));
        if r.is_err() {
            let _ = flags.get(self.rank as i64).fill_(1.0);
        }
        g.allreduce_sum(&[&flags]).map_err(|e| self.blame(e))?;
        let failed: Vec<usize> = Vec::<f32>::try_from(&flags)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter(|(_, f)| **f > 0.0)
            .map(|(i, _)| i)
            .collect();
        match (r, failed.is_empty()) {
            (Err(e), _) => Err(e),
            (Ok(v), true) => Ok(v),
            (Ok(_), false) => Err(Error::PeerFailed { ranks: failed }),
        }
    }

    /// Whether `flag` holds on any rank (one tiny all-reduce; no group: `flag`).
    pub fn any(&self, flag: bool) -> Result<bool> {
        let Some(g) = &self.group else { return Ok(flag) };
        let t = Tensor::from_slice(&[flag as i32 as f32]);
        g.allreduce_sum(&[&t]).map_err(|e| self.blame(e))?;
        Ok(t.double_value(&[0]) > 0.0)
    }

    /// Rank 0's values into every rank's tensors (the initial weights, as DDP's construction).
    pub fn broadcast_from_main(&self, tensors: &[Tensor]) -> Result<()> {
        let Some(g) = &self.group else { return Ok(()) };
        tch::no_grad(|| -> Result<()> {
            for chunk in buckets(tensors) {
                let flat = flatten(&chunk);
                g.broadcast(&[&flat], 0).map_err(|e| self.blame(e))?;
                unflatten(&flat, &chunk);
            }
            Ok(())
        })
    }

    /// Each tensor replaced by its mean over the ranks, all-reduced in buckets of a few MB (gradients).
    pub fn average(&self, tensors: &[Tensor]) -> Result<()> {
        let Some(g) = &self.group else { return Ok(()) };
        tch::no_grad(|| -> Result<()> {
            let chunks = buckets(tensors);
            let flats: Vec<Tensor> = chunks.iter().map(|c| flatten(c)).collect();
            g.allreduce_sum(&flats.iter().collect::<Vec<_>>()).map_err(|e| self.blame(e))?;
            for (flat, chunk) in flats.iter().zip(&chunks) {
                unflatten(&(flat / self.size as f64), chunk);
            }
            Ok(())
        })
    }

    /// Sums a tensor over the ranks, in place.
    pub fn sum(&self, t: &Tensor) -> Result<()> {
        match &self.group {
            Some(g) => g.allreduce_sum(&[t]).map_err(|e| self.blame(e)),
            None => Ok(()),
        }
    }
}

fn env_number(name: &str) -> Result<Option<usize>> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v.trim().parse().map(Some).map_err(|_| bad_env(name, &format!("'{v}' is not a number"))),
    }
}

fn bad_env(name: &str, why: &str) -> Error {
    Error::Config(format!("environment variable {name} {why} (set by torchrun or --nproc-per-node)"))
}

/// Consecutive tensors grouped by kind and device into buckets of about [`BUCKET_BYTES`].
fn buckets(tensors: &[Tensor]) -> Vec<Vec<Tensor>> {
    let mut out: Vec<Vec<Tensor>> = Vec::new();
    let mut bytes = 0;
    for t in tensors {
        let size = t.numel() as i64 * t.kind().elt_size_in_bytes() as i64;
        let fits = out.last().is_some_and(|b: &Vec<Tensor>| {
            bytes + size <= BUCKET_BYTES && b[0].kind() == t.kind() && b[0].device() == t.device()
        });
        if !fits {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        out.last_mut().expect("a bucket was just pushed").push(t.shallow_clone());
    }
    out
}

fn flatten(chunk: &[Tensor]) -> Tensor {
    Tensor::cat(&chunk.iter().map(|t| t.reshape([-1])).collect::<Vec<_>>(), 0)
}

fn unflatten(flat: &Tensor, chunk: &[Tensor]) {
    let mut at = 0;
    for t in chunk {
        let n = t.numel() as i64;
        let mut dst = t.shallow_clone();
        dst.copy_(&flat.narrow(0, at, n).view_as(t));
        at += n;
    }
}
