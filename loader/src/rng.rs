//! A small counter-based RNG: every clip draws from a stream keyed by (seed, epoch, sample), so results do not
//! depend on which worker takes which clip.

/// A small, fast, seedable generator (splitmix64): the loader's draws are keyed by (seed, epoch, clip) so that batches do not depend on thread scheduling.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// A stream for one (seed, epoch, index) triple.
    pub fn keyed(seed: u64, epoch: u64, index: u64) -> Self {
        Rng(mix(mix(seed ^ 0x9E37_79B9_7F4A_7C15, epoch), index))
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform integer in [0, n); 0 when n == 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.uniform() * n as f64) as usize
        }
    }
    /// Fisher-Yates shuffle of `v`.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

fn mix(a: u64, b: u64) -> u64 {
    let mut r = Rng(a ^ b.wrapping_mul(0xD1B5_4A32_D192_ED03));
    r.next_u64()
}
