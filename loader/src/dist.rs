//! Per-epoch index sets, as PyTorch's DistributedSampler: shuffled per epoch, padded or dropped to a multiple of
//! the world size, then strided by rank.
use crate::rng::Rng;

/// This process's part of the data: rank `rank` of `world` processes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shard {
    /// This process's rank, from 0.
    pub rank: usize,
    /// How many processes share the data.
    pub world: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { rank: 0, world: 1 }
    }
}

/// How one epoch orders the dataset before it is split over ranks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochOrder {
    /// The run's seed.
    pub seed: u64,
    /// The epoch: each one is shuffled anew.
    pub epoch: u64,
    /// Shuffle (training) or keep the list's order (evaluation).
    pub shuffle: bool,
    /// Drop the tail that does not divide by the world size, or pad it with the first indices again.
    pub drop_last: bool,
}

/// The dataset indices that `shard` sees in one epoch of `n` items, as DistributedSampler's.
pub fn epoch_indices(n: usize, order: EpochOrder, shard: Shard) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if order.shuffle {
        Rng::keyed(order.seed, order.epoch, u64::MAX).shuffle(&mut idx);
    }
    let world = shard.world.max(1);
    if order.drop_last {
        idx.truncate(n / world * world);
    } else if n > 0 {
        let total = n.div_ceil(world) * world;
        let mut k = 0;
        while idx.len() < total {
            idx.push(idx[k % n]);
            k += 1;
        }
    }
    idx.into_iter().skip(shard.rank).step_by(world).collect()
}
