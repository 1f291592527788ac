//! Test-time scoring as the reference's test_net: the student's temporal vision tower, a classifier from all 29
//! templates, per-view logits averaged over frames, and per-video scores that SUM the raw view logits
//! (TestMeter, ensemble 'sum'; no softmax).
use crate::dist::World;
use crate::input::Clips;
use froster_loader::{LoaderConfig, Mode, SamplingConfig};
use froster_model::{classifier, frames_of, l2n, prompt_ids, Clip, Result, Tokenizer, TEMPLATES};
use tch::{Kind, Tensor};

/// Raw text features per template [29, C, D] and the eval classifier [C, D].
pub fn eval_classifier(
    clip: &Clip,
    tok: &Tokenizer,
    classes: &[String],
    device: tch::Device,
) -> Result<(Tensor, Tensor)> {
    let all: Vec<usize> = (0..TEMPLATES.len()).collect();
    let ids = prompt_ids(tok, &all, classes, clip.config.context_length as usize)?.to_device(device);
    let per = tch::no_grad(|| {
        // One template at a time keeps memory flat for large class lists.
        let rows: Vec<Tensor> =
            ids.split(classes.len() as i64, 0).iter().map(|chunk| clip.encode_text(chunk)).collect();
        Tensor::stack(&rows, 0)
    });
    let cls = classifier(&per);
    Ok((per, cls))
}

/// Logits of one view of a batch: [B, T, 3, R, R] -> [B, C].
pub fn view_logits(clip: &Clip, frames: i64, video: &Tensor, cls: &Tensor) -> Tensor {
    let (b, t) = (video.size()[0], video.size()[1]);
    tch::no_grad(|| {
        let img = l2n(&clip.encode_image(&frames_of(video), Some(frames)));
        let per_frame = clip.logit_scale.exp() * img.matmul(&cls.to_kind(img.kind()).tr());
        per_frame.view([b, t, -1]).mean_dim([1i64].as_slice(), false, Kind::Float)
    })
}

/// The loader of test views: `sampling.num_views` x `sampling.num_crops` per video at short side `crop`, in
/// list order.
pub fn test_loader(sampling: SamplingConfig, crop: usize, batch: usize, workers: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size: batch,
        workers,
        mode: Mode::Test { scale: crop },
        crop,
        sampling,
        shuffle: false,
        ..Default::default()
    }
}

/// One evaluation step: a batch of views on the device (from the same feed as training's, [`crate::feed`]) ->
/// logits [B, C].
pub fn eval_step(clip: &Clip, frames: i64, clips: &Clips, cls: &Tensor) -> Tensor {
    view_logits(clip, frames, &clips.video, cls)
}

/// Accumulates per-view logits into per-video sums.
#[derive(Default)]
pub struct Ensemble {
    pub sums: std::collections::BTreeMap<usize, (Vec<f32>, usize, i64)>,
}

impl Ensemble {
    /// Adds the logits [B, C] of clips whose video ids and labels are given.
    pub fn add(&mut self, logits: &Tensor, videos: &[usize], labels: &[i64]) {
        let l = logits.to_kind(Kind::Float).to_device(tch::Device::Cpu).contiguous();
        let c = l.size()[1] as usize;
        let flat: Vec<f32> = Vec::<f32>::try_from(l.view([-1])).unwrap_or_default();
        for (i, (&v, &label)) in videos.iter().zip(labels).enumerate() {
            let e = self.sums.entry(v).or_insert_with(|| (vec![0.0; c], 0, label));
            for (s, x) in e.0.iter_mut().zip(&flat[i * c..(i + 1) * c]) {
                *s += x;
            }
            e.1 += 1;
        }
    }

    /// The per-video sums of every rank, on every rank: each rank scored its own videos of the `videos` in the
    /// list, and one all-reduce of dense rows [sums, views, label + 1] adds the others' (zeros elsewhere, so the
    /// sums are exactly one process's).
    pub fn gather(self, world: &World, videos: usize, classes: usize) -> crate::Result<Ensemble> {
        if !world.is_distributed() {
            return Ok(self);
        }
        let width = classes + 2;
        let mut dense = vec![0f32; videos * width];
        for (&v, (sums, views, label)) in self.sums.iter().filter(|(&v, _)| v < videos) {
            let row = &mut dense[v * width..(v + 1) * width];
            row[..classes].copy_from_slice(&sums[..classes.min(sums.len())]);
            (row[classes], row[classes + 1]) = (*views as f32, *label as f32 + 1.0);
        }
        let t = Tensor::from_slice(&dense);
        world.sum(&t)?;
        let dense = Vec::<f32>::try_from(&t).unwrap_or_default();
        let mut out = Ensemble::default();
        for (v, row) in dense.chunks_exact(width).enumerate().filter(|(_, r)| r[classes] > 0.0) {
            out.sums.insert(v, (row[..classes].to_vec(), row[classes] as usize, row[classes + 1] as i64 - 1));
        }
        Ok(out)
    }

    /// Top-k class ids of a score row, highest first (ties: lower id first, as a stable sort).
    pub fn topk(scores: &[f32], k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..scores.len()).collect();
        idx.sort_by(|&a, &b| scores[b].partial_cmp(&scores[a]).unwrap_or(std::cmp::Ordering::Equal));
        idx.truncate(k);
        idx
    }

    /// (top-1, top-5) accuracy in percent over the videos seen.
    pub fn accuracy(&self) -> (f64, f64) {
        let n = self.sums.len().max(1) as f64;
        let hit =
            |k: usize| self.sums.values().filter(|(s, _, l)| Self::topk(s, k).contains(&(*l as usize))).count() as f64;
        (100.0 * hit(1) / n, 100.0 * hit(5) / n)
    }
}
