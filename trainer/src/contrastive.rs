//! CLIP's own objective, to pretrain a CLIP from scratch (`MODEL.OBJECTIVE = "contrastive"`): symmetric InfoNCE
//! between the clips of a batch and the captions they carry (labels index DATA.CLASSES, the captions), with the
//! model's learned logit scale. Clips that share a caption are all positives of it (multi-positive text side).
use froster_model::{classifier, frames_of, l2n, prompt_ids, Student, Tokenizer, BARE, CONTEXT};
use tch::{Kind, Reduction, Tensor};

/// The loss of logits [B, U] (clip b against the batch's distinct caption u) with each clip's caption `targets`
/// [B] in 0..U: (image-to-text CE + text-to-image multi-positive CE) / 2, and the two halves.
pub fn info_nce(logits: &Tensor, targets: &Tensor) -> (Tensor, Tensor, Tensor) {
    let i2t = logits.cross_entropy_loss::<Tensor>(targets, None, Reduction::Mean, -100, 0.0);
    let u = logits.size()[1];
    // positives[u, b] = clip b carries caption u; log of the probability mass the caption puts on its clips.
    let positives = targets.unsqueeze(0).eq_tensor(&Tensor::arange(u, (Kind::Int64, logits.device())).unsqueeze(1));
    let log_p = logits.tr().log_softmax(1, Kind::Float);
    let masked = log_p.masked_fill(&positives.logical_not(), f64::NEG_INFINITY);
    let t2i = masked.logsumexp([1i64].as_slice(), false).neg().mean(Kind::Float);
    ((&i2t + &t2i) * 0.5, i2t, t2i)
}

/// One micro-batch's contrastive loss parts [loss, i2t, t2i] (backward already run, scaled by `1 / n_micro`).
pub fn accumulate(
    student: &Student,
    tok: &Tokenizer,
    captions: &[String],
    video: &Tensor,
    labels: &Tensor,
    n_micro: usize,
) -> crate::Result<Tensor> {
    let ids: Vec<i64> = Vec::<i64>::try_from(labels.to_device(tch::Device::Cpu))?;
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let names: Vec<String> = distinct.iter().map(|&i| captions[i as usize].clone()).collect();
    let targets: Vec<i64> = ids.iter().map(|i| distinct.binary_search(i).unwrap_or(0) as i64).collect();
    let dev = video.device();
    let text = student.clip.encode_text(&prompt_ids(tok, &[BARE], &names, CONTEXT)?.to_device(dev));
    let txt = classifier(&text.unsqueeze(0)); // one template: l2-normalised rows
    let (b, t) = (video.size()[0], video.size()[1]);
    let img = l2n(&student.clip.encode_image(&frames_of(video), Some(student.frames)));
    let per_frame = student.clip.logit_scale.exp() * img.matmul(&txt.to_kind(img.kind()).tr());
    let logits = per_frame.view([b, t, -1]).mean_dim([1i64].as_slice(), false, Kind::Float);
    let (loss, i2t, t2i) = info_nce(&logits, &Tensor::from_slice(&targets).to_device(dev));
    (&loss / n_micro as f64).backward();
    Ok(Tensor::stack(&[&loss, &i2t, &t2i, &Tensor::zeros_like(&loss)], 0).detach().to_kind(Kind::Float))
}
