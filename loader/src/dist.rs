//! Per-epoch index sets, as PyTorch's DistributedSampler: shuffled per epoch, padded or dropped to a multiple of
//! the world size, then strided by rank.
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shard {
    pub rank: usize,
    pub world: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { rank: 0, world: 1 }
    }
}

pub fn epoch_indices(n: usize, seed: u64, epoch: u64, shuffle: bool, drop_last: bool, shard: Shard) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    if shuffle {
        Rng::keyed(seed, epoch, u64::MAX).shuffle(&mut idx);
    }
    let world = shard.world.max(1);
    if drop_last {
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
