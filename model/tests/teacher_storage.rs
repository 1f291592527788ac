//! The frozen teacher's weights stored in the compute dtype (bf16) once give exactly the features that casting
//! them at every forward gives; LayerNorms and the logit scale stay f32.
use froster_model::{ClipConfig, Teacher};
use tch::{Device, Kind, Tensor};

#[test]
fn teacher_weights_stored_in_bf16_give_the_same_features_as_casting_each_forward() {
    tch::manual_seed(5);
    let cfg = ClipConfig::preset("tiny").unwrap();
    let mut cast = Teacher::new(&cfg, Device::Cpu);
    let mut stored = Teacher::new(&cfg, Device::Cpu);
    stored.vs.copy(&cast.vs).unwrap();
    cast.clip.set_compute(Some(Kind::BFloat16));
    stored.clip.set_compute(Some(Kind::BFloat16));
    stored.store_weights_in(Kind::BFloat16);
    let kinds: std::collections::HashMap<String, Kind> =
        stored.vs.variables().into_iter().map(|(k, v)| (k, v.kind())).collect();
    assert_eq!(kinds["visual.transformer.resblocks.0.attn.in_proj_weight"], Kind::BFloat16);
    assert_eq!(kinds["token_embedding.weight"], Kind::BFloat16);
    assert_eq!(kinds["visual.transformer.resblocks.0.ln_1.weight"], Kind::Float);
    assert_eq!(kinds["ln_final.bias"], Kind::Float);
    assert_eq!(kinds["logit_scale"], Kind::Float);
    let r = cfg.image_resolution;
    let frames = Tensor::randn([3, 3, r, r], (Kind::Float, Device::Cpu));
    let (a, b) = (cast.image_features(&frames), stored.image_features(&frames));
    assert_eq!(a.kind(), Kind::Float);
    assert!(a.equal(&b), "image features differ by {}", (&a - &b).abs().max().double_value(&[]));
    let ids = || Ok(Tensor::randint(300, [4, cfg.context_length], (Kind::Int64, Device::Cpu)));
    tch::manual_seed(9);
    let ta = cast.template_features(0, ids).unwrap();
    tch::manual_seed(9);
    let tb = stored.template_features(0, ids).unwrap();
    assert!(ta.equal(&tb), "text features differ");
}
