//! Prompts packed end to end give the text features and gradients of the padded batch, and a layout holds every
//! batch it was fitted to (spare tokens in dummy sequences, every row computed once).
use froster_model::{prompt_ids, Clip, ClipConfig, PackedLayout, Tokenizer, CONTEXT};
use std::sync::Mutex;
use tch::{nn, Device, Kind, Tensor};

static RNG: Mutex<()> = Mutex::new(());

/// Two batches of four prompts of different lengths (template 0 and template 5 of the same names).
fn batches() -> Vec<Tensor> {
    let names: Vec<String> = ["run", "play the violin while riding a unicycle on a rope", "eat", "swim in a lake"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    [0, 5].iter().map(|&t| prompt_ids(&Tokenizer::new(), &[t], &names, CONTEXT).unwrap()).collect()
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[]).max(1e-12)
}

/// Text features of `ids` padded or packed, and every weight's gradient of a loss on them.
fn features(ids: &Tensor, packed: Option<&PackedLayout>, pooled: bool) -> (Tensor, Vec<Tensor>) {
    let (vs, mut clip) = {
        let _g = RNG.lock().unwrap();
        tch::manual_seed(21);
        let vs = nn::VarStore::new(Device::Cpu);
        let clip = Clip::new(&vs.root(), &ClipConfig::preset("tiny").unwrap());
        (vs, clip)
    };
    clip.set_pooled_last_block(pooled);
    let f = match packed {
        Some(layout) => clip.encode_text_packed(&layout.text(&layout.pack(ids).unwrap())),
        None => clip.encode_text(ids),
    };
    let w = Tensor::linspace(-1.0, 1.0, f.numel() as i64, (Kind::Float, Device::Cpu)).view_as(&f);
    (&f * w).sum(Kind::Float).pow_tensor_scalar(2).backward();
    let grads = vs.trainable_variables().iter().map(|v| v.grad()).filter(|g| g.defined()).map(|g| g.copy()).collect();
    (f.detach(), grads)
}

#[test]
fn packed_prompts_give_the_padded_features_and_gradients() {
    let b = batches();
    let layout = PackedLayout::fitting(&b).unwrap();
    for ids in &b {
        for pooled in [true, false] {
            let (want, want_g) = features(ids, None, pooled);
            let (got, got_g) = features(ids, Some(&layout), pooled);
            assert_eq!(got.size(), want.size());
            assert!(rel(&got, &want) < 1e-5, "features differ: {}", rel(&got, &want));
            assert_eq!(got_g.len(), want_g.len(), "the same weights get gradients");
            for (i, (g, w)) in got_g.iter().zip(&want_g).enumerate() {
                assert!(rel(g, w) < 1e-4, "weight {i}'s gradient differs by {}", rel(g, w));
            }
        }
    }
}

#[test]
fn a_layout_holds_every_batch_it_was_fitted_to() {
    let b = batches();
    let layout = PackedLayout::fitting(&b).unwrap();
    let lens: Vec<Vec<i64>> = b.iter().map(|ids| Vec::try_from(ids.argmax(-1, false) + 1).unwrap()).collect();
    assert_eq!(layout.prompts, 4);
    assert_eq!(layout.max_len, *lens.iter().flatten().max().unwrap());
    assert_eq!(layout.tokens, lens.iter().map(|l| l.iter().sum::<i64>()).max().unwrap());
    for (ids, lens) in b.iter().zip(&lens) {
        let data = layout.pack(ids).unwrap();
        assert_eq!(data.size(), [2 * layout.tokens + layout.prompts + layout.seqs + 1]);
        let t = layout.text(&data);
        let offsets = Vec::<i64>::try_from(&t.packed.offsets).unwrap();
        assert_eq!((offsets[0], *offsets.last().unwrap()), (0, layout.tokens));
        assert!(offsets.windows(2).all(|w| w[1] >= w[0] && w[1] - w[0] <= layout.max_len), "{offsets:?}");
        // Each prompt's tokens, in order, up to its EOT, which the EOT rows point at.
        for (s, &len) in lens.iter().enumerate() {
            let packed = t.ids.narrow(0, offsets[s], len);
            assert_eq!(packed, ids.get(s as i64).narrow(0, 0, len));
            assert_eq!(t.eot.int64_value(&[s as i64]), offsets[s] + len - 1);
        }
        // Every padded row at most once: the scatter into the padded layout never overwrites.
        let rows = t.packed.padded.unique_dim(0, true, false, false).0;
        assert_eq!(rows.size()[0], layout.tokens);
        assert!(t.packed.padded.max().int64_value(&[]) < layout.seqs * layout.max_len);
    }
    let longer = Tensor::cat(&[b[0].shallow_clone(), b[1].shallow_clone()], 0);
    let err = layout.pack(&longer).unwrap_err().to_string();
    assert!(err.contains("do not fit"), "{err}");
    assert!(PackedLayout::fitting(&[b[0].shallow_clone(), longer]).is_err(), "batches of different sizes");
}
