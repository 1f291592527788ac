//! FROSTER's training objective: cross-entropy on the student's frame-averaged logits plus the residual
//! feature distillation towards the frozen teacher, visual and text.
use froster_model::{classifier, frames_of, l2n, Student, Teacher};
use tch::{Kind, Reduction, Tensor};

/// The objective's weights: loss = CE + distillation_ratio * (distill_image + distill_text), and the projected
/// feature is f + alpha * projector(f).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    pub distillation_ratio: f64,
    pub alpha: f64,
    /// CLIP pretraining instead (crate::contrastive): labels index captions, no teacher, no projectors.
    pub contrastive: bool,
}

impl Default for Objective {
    fn default() -> Self {
        Objective { distillation_ratio: 2.0, alpha: 0.1, contrastive: false }
    }
}

/// Everything one forward computes; the scalars are 0-d tensors still in the graph.
pub struct Forward {
    pub student_image: Tensor,
    pub student_text_per_template: Tensor,
    pub classifier: Tensor,
    pub logits_per_frame: Tensor,
    pub logits: Tensor,
    pub image_projected: Tensor,
    pub text_projected: Tensor,
    pub teacher_image: Tensor,
    pub teacher_classifier: Tensor,
    pub loss_ce: Tensor,
    pub distill_image: Tensor,
    pub distill_text: Tensor,
    pub loss: Tensor,
}

/// One training forward.
/// `video`: [B, T, 3, R, R] normalised; `prompt_ids`: [K*C, 77] template-major student prompts;
/// `teacher_text`: the teacher's raw text features [K, C, D] for the same prompts (cached by the caller).
pub fn forward(
    student: &Student,
    teacher: &Teacher,
    video: &Tensor,
    labels: &Tensor,
    prompt_ids: &Tensor,
    teacher_text: &Tensor,
    obj: Objective,
) -> Forward {
    let (k, c) = (teacher_text.size()[0], teacher_text.size()[1]);
    let txt = student.clip.encode_text(prompt_ids).view([k, c, -1]);
    let cls = classifier(&txt);
    let mut f = forward_with_classifier(student, teacher, video, labels, &cls, teacher_text, obj);
    f.student_text_per_template = txt;
    f
}

/// The forward given the student's classifier [C, D]: gradient accumulation computes the classifier once per
/// optimizer step and shares it between micro-batches (the same mathematics, far fewer text passes).
pub fn forward_with_classifier(
    student: &Student,
    teacher: &Teacher,
    video: &Tensor,
    labels: &Tensor,
    cls: &Tensor,
    teacher_text: &Tensor,
    obj: Objective,
) -> Forward {
    let (b, t) = (video.size()[0], video.size()[1]);
    let frames = frames_of(video);
    let student_image = student.clip.encode_image(&frames, Some(student.frames));
    crate::profile::mark("student vision forward");
    let img_n = l2n(&student_image);
    let c = cls.size()[0];
    let logits_per_frame = student.clip.logit_scale.exp() * img_n.matmul(&cls.tr());
    let logits = logits_per_frame.view([b, t, c]).mean_dim([1i64].as_slice(), false, Kind::Float);
    let teacher_image = teacher.image_features(&frames.to_kind(teacher.clip.logit_scale.kind()));
    crate::profile::mark("teacher vision forward");
    let teacher_classifier = classifier(teacher_text);
    let image_projected = student.projector_v.residual(&img_n, obj.alpha);
    let text_projected = student.projector_t.residual(cls, obj.alpha);
    let loss_ce = logits.cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0);
    let cos = |a: &Tensor, b: &Tensor| Tensor::cosine_similarity(a, &b.to_kind(a.kind()), -1, 1e-8);
    let distill_image = cos(&image_projected, &teacher_image).mean(Kind::Float).neg() + 1.0;
    let distill_text = cos(&text_projected, &teacher_classifier).mean(Kind::Float).neg() + 1.0;
    let loss = &loss_ce + (&distill_image + &distill_text) * obj.distillation_ratio;
    Forward {
        student_image,
        student_text_per_template: Tensor::new(),
        classifier: cls.shallow_clone(),
        logits_per_frame,
        logits,
        image_projected,
        text_projected,
        teacher_image,
        teacher_classifier,
        loss_ce,
        distill_image,
        distill_text,
        loss,
    }
}
