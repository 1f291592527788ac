//! Prompts packed end to end for the text tower: each prompt's tokens up to its EOT, one after the other, so the
//! linear layers run on real tokens only. With the K400 base names a step's prompts average 41 tokens where the
//! longest reaches 64: a padded batch computes half again as much. Causal attention stays within each prompt
//! ([`Packed`]). A [`PackedLayout`] fixes every size over a set of prompt batches (a recorded CUDA graph replays
//! fixed shapes): the spare tokens form dummy prompts of their own, so every token is computed and finite.
use crate::error::{Error, Result};
use tch::{Device, Kind, Tensor};

/// Where packed tokens sit, for causal attention within each sequence.
#[derive(Debug)]
pub struct Packed {
    /// [T] int64: each packed token's row in the padded layout [seqs * max_len]: `seq * max_len + position`.
    pub padded: Tensor,
    /// [seqs + 1] int64: where each sequence starts in the packed tokens, and the total (varlen attention's
    /// cumulative lengths); empty sequences repeat an offset.
    pub offsets: Tensor,
    /// Sequences, dummy ones included.
    pub seqs: i64,
    /// The longest sequence.
    pub max_len: i64,
}

impl Packed {
    /// Sequences of `lens` tokens packed one after the other (none longer than `max_len`), on `device`.
    pub fn new(lens: &[i64], max_len: i64, device: Device) -> Self {
        let (padded, offsets) = places(lens, max_len);
        let on = |v: Vec<i64>| Tensor::from_slice(&v).to_device(device);
        Packed { padded: on(padded), offsets: on(offsets), seqs: lens.len() as i64, max_len }
    }
}

/// [`Packed::padded`] and [`Packed::offsets`] of sequences of `lens` tokens.
fn places(lens: &[i64], max_len: i64) -> (Vec<i64>, Vec<i64>) {
    let (mut padded, mut offsets) = (Vec::new(), vec![0i64]);
    for (s, &len) in lens.iter().enumerate() {
        padded.extend((0..len).map(|p| s as i64 * max_len + p));
        offsets.push(offsets[s] + len);
    }
    (padded, offsets)
}

/// A packed batch of prompts: views of one int64 tensor made by [`PackedLayout::pack`].
#[derive(Debug)]
pub struct PackedText {
    /// [T] token ids.
    pub ids: Tensor,
    /// [prompts] each prompt's EOT row among the packed tokens, in prompt order.
    pub eot: Tensor,
    /// The sequences' places.
    pub packed: Packed,
}

/// The fixed sizes of packed prompt batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackedLayout {
    /// Prompts per batch.
    pub prompts: i64,
    /// Packed tokens, spare ones included.
    pub tokens: i64,
    /// Sequences: the prompts, then dummy ones holding the spare tokens (or empty).
    pub seqs: i64,
    /// The longest prompt (tokens up to and including its EOT), and the longest dummy sequence.
    pub max_len: i64,
}

/// Each prompt's length up to and including its EOT (the largest id, first occurrence), of ids [S, L] on the CPU.
fn lengths(ids: &Tensor) -> Result<Vec<i64>> {
    let eot = ids.argmax(-1, false).to_device(Device::Cpu);
    Vec::<i64>::try_from(&eot + 1).map_err(|e| Error::Packing(format!("prompt ids: {e}")))
}

impl PackedLayout {
    /// The smallest layout that holds every batch of `batches` (token ids [S, L] each, the same S).
    pub fn fitting(batches: &[Tensor]) -> Result<Self> {
        let lens = batches.iter().map(lengths).collect::<Result<Vec<_>>>()?;
        let prompts = lens.first().map_or(0, |l| l.len() as i64);
        if lens.iter().any(|l| l.len() as i64 != prompts) {
            return Err(Error::Packing("batches must have as many prompts each".into()));
        }
        let max_len = lens.iter().flatten().copied().max().unwrap_or(1);
        let totals: Vec<i64> = lens.iter().map(|l| l.iter().sum()).collect();
        let tokens = totals.iter().copied().max().unwrap_or(0);
        let dummies = totals.iter().map(|t| (tokens - t + max_len - 1) / max_len).max().unwrap_or(0);
        Ok(PackedLayout { prompts, tokens, seqs: prompts + dummies, max_len })
    }

    /// Packs ids [prompts, L] into one int64 tensor on the CPU: token ids [tokens], padded rows [tokens], EOT rows
    /// [prompts], offsets [seqs + 1]. Spare tokens (id 0) fill dummy sequences of at most `max_len`.
    pub fn pack(&self, ids: &Tensor) -> Result<Tensor> {
        let lens = lengths(ids)?;
        let width = ids.size().get(1).copied().unwrap_or(0);
        let flat = Vec::<i64>::try_from(ids.to_device(Device::Cpu).to_kind(Kind::Int64).flatten(0, -1))
            .map_err(|e| Error::Packing(format!("prompt ids: {e}")))?;
        let total: i64 = lens.iter().sum();
        if lens.len() as i64 != self.prompts || total > self.tokens || lens.iter().any(|&l| l > self.max_len) {
            return Err(Error::Packing(format!(
                "{} prompts of {total} tokens (longest {}) do not fit the packed layout {self:?}",
                lens.len(),
                lens.iter().max().unwrap_or(&0)
            )));
        }
        // Every sequence's length: the prompts, then dummies of at most max_len holding the spare tokens, then
        // empty ones up to `seqs`.
        let mut seq_lens = lens.clone();
        let mut spare = self.tokens - total;
        while spare > 0 {
            seq_lens.push(spare.min(self.max_len));
            spare -= self.max_len;
        }
        seq_lens.resize(self.seqs as usize, 0);
        let (padded, offsets) = places(&seq_lens, self.max_len);
        let mut tok = Vec::with_capacity(self.tokens as usize);
        for (s, &len) in lens.iter().enumerate() {
            tok.extend_from_slice(&flat[s * width as usize..][..len as usize]);
        }
        tok.resize(self.tokens as usize, 0);
        let eot: Vec<i64> = lens.iter().zip(&offsets).map(|(len, start)| start + len - 1).collect();
        Ok(Tensor::from_slice(&[tok, padded, eot, offsets].concat()))
    }

    /// The views of a tensor [`PackedLayout::pack`] made (on any device; nothing is copied or waited for).
    pub fn text(&self, data: &Tensor) -> PackedText {
        let part = |start: i64, len: i64| data.narrow(0, start, len);
        let (t, p) = (self.tokens, self.prompts);
        PackedText {
            ids: part(0, t),
            eot: part(2 * t, p),
            packed: Packed {
                padded: part(t, t),
                offsets: part(2 * t + p, self.seqs + 1),
                seqs: self.seqs,
                max_len: self.max_len,
            },
        }
    }
}
