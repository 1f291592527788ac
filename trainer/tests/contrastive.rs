//! CLIP pretraining (`MODEL.OBJECTIVE = "contrastive"`): the symmetric InfoNCE against a hand-computed case, and a
//! short pretraining run on the captioned fixtures whose checkpoint loads as a plain CLIP.
mod common;
use froster_model::{layout, weights, ClipConfig};
use froster_train::contrastive::info_nce;
use tch::{Kind, Tensor};

#[test]
fn info_nce_matches_a_hand_computed_case() {
    // Three clips, two captions; clips 0 and 2 carry caption 0.
    let logits = Tensor::from_slice(&[2.0f64, 0.0, 0.0, 1.0, 1.0, 1.0]).view([3, 2]);
    let targets = Tensor::from_slice(&[0i64, 1, 0]);
    let (loss, i2t, t2i) = info_nce(&logits, &targets);
    let lse = |v: &[f64]| v.iter().map(|x| x.exp()).sum::<f64>().ln();
    // image to text: -log softmax over each row at its caption
    let want_i2t = ((lse(&[2.0, 0.0]) - 2.0) + (lse(&[0.0, 1.0]) - 1.0) + (lse(&[1.0, 1.0]) - 1.0)) / 3.0;
    // text to image: caption 0's column [2, 0, 1], positives clips 0 and 2; caption 1's column [0, 1, 1], clip 1
    let col0 = lse(&[2.0, 0.0, 1.0]) - lse(&[2.0, 1.0]);
    let col1 = lse(&[0.0, 1.0, 1.0]) - 1.0;
    let want_t2i = (col0 + col1) / 2.0;
    for (name, got, want) in
        [("i2t", &i2t, want_i2t), ("t2i", &t2i, want_t2i), ("loss", &loss, (want_i2t + want_t2i) / 2.0)]
    {
        let got = got.to_kind(Kind::Double).double_value(&[]);
        assert!((got - want).abs() < 1e-6, "{name}: {got} vs {want}");
    }
}

#[test]
fn a_pretraining_checkpoint_loads_as_a_clip() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = froster_fixtures::captioned::CaptionedConfig {
        pretrain_per_combo: 1,
        train_per_class: 1,
        eval_per_class: 1,
        ..Default::default()
    };
    let c = froster_fixtures::captioned::generate(tmp.path(), &cfg).unwrap();
    let lists = froster_pack::ListSet::read(&[c.protocol.join("pretrain.csv")]).unwrap();
    let pack = tmp.path().join("pack");
    let decode = froster_loader::DecodeOptions { short_side: 48, ..Default::default() };
    let opts = froster_pack::BuildOptions {
        encode: froster_pack::EncodeOptions { decode, ..Default::default() },
        jobs: 2,
        ..froster_pack::BuildOptions::new(&c.videos, lists, &pack)
    };
    froster_pack::build(&opts).unwrap();
    let out = tmp.path().join("run");
    let captions = c.protocol.join("captions.json");
    let o = common::train(
        &pack,
        &captions,
        &out,
        &["--set", "MODEL.OBJECTIVE=\"contrastive\"", "--set", "TRAIN.LIST=\"pretrain\""],
    )
    .args(["--set", "TRAIN.BATCH_SIZE=8", "--set", "SOLVER.MAX_EPOCH=2", "--set", "DATA.SAMPLING_RATE=3"])
    .output()
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let losses = common::losses(&out);
    assert!(losses.iter().all(|l| l.is_finite()) && losses.len() >= 2, "{losses:?}");
    // The epoch checkpoint, as MODEL.CLIP takes it: OpenAI keys, a tiny CLIP's shapes, weights that moved.
    let ckpt = weights::load(&layout::epoch_file(&out, 2)).unwrap();
    let clip = layout::clip_only(&ckpt);
    assert!(clip.contains_key("visual.conv1.weight") && clip.contains_key("token_embedding.weight"));
    let cc = ClipConfig::from_weights(&clip).unwrap();
    assert_eq!(cc, ClipConfig::preset("tiny").unwrap());
    let teacher = weights::load(&layout::teacher_file(&out)).unwrap();
    let moved = (&clip["visual.proj"] - &teacher["visual.proj"]).abs().max().double_value(&[]);
    assert!(moved > 0.0);
}
