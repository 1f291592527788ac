//! Checkpoint IO: torch.save .pth and TorchScript .pt written by the setup's torch, round trips through
//! safetensors, refusal of malicious pickles, and a bf16 forward against f32.
use froster_model::{check_plain_pickle, layout, weights, Clip, ClipConfig};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{nn, Device, Kind, Tensor};

/// The Python of the torch venv that scripts/setup.sh made (.froster/libtorch -> <venv>/lib/python3.X/site-packages/torch).
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FROSTER_PYTHON") {
        return p.into();
    }
    let link = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.froster/libtorch");
    let torch = std::fs::canonicalize(&link).expect("run scripts/setup.sh first (no .froster/libtorch)");
    torch.ancestors().nth(4).unwrap().join("bin/python")
}

const MAKE: &str = r#"
import sys, json, torch, collections
out = sys.argv[1]
torch.manual_seed(0)
class Sub(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 4, 2, bias=False)
        self.proj = torch.nn.Parameter(torch.randn(4, 3))
        self.ln_pre = torch.nn.LayerNorm(4)
    def forward(self, x):
        return self.conv1(x)
class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.visual = Sub()
        self.logit_scale = torch.nn.Parameter(torch.tensor(2.5))
        self.register_buffer("positional_embedding", torch.randn(5, 4).t())  # non-contiguous storage view
    def forward(self, x):
        return self.visual(x) * self.logit_scale
m = M().half()
torch.jit.save(torch.jit.script(m), out + "/openai_like.pt")
state = collections.OrderedDict(("model." + k, v.float()) for k, v in m.state_dict().items())
state["projector_v.0.weight"] = torch.randn(3, 3)
state["raw_model.logit_scale"] = torch.tensor(1.0)
torch.save({"epoch": 3, "model_state": state, "optimizer_state": {"step": 5}, "cfg": "TRAIN:\n  BATCH_SIZE: 8"}, out + "/froster.pth")
ref = {k: v.float().flatten().tolist() for k, v in m.state_dict().items()}
ref["__shapes__"] = {k: list(v.shape) for k, v in m.state_dict().items()}
json.dump(ref, open(out + "/ref.json", "w"))
"#;

fn make(dir: &Path) -> serde_json::Value {
    // A file, not -c: torch.jit.script reads the module's source.
    std::fs::write(dir.join("make.py"), MAKE).unwrap();
    let st = Command::new(python()).arg(dir.join("make.py")).arg(dir).output().expect("python of the torch venv");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    serde_json::from_str(&std::fs::read_to_string(dir.join("ref.json")).unwrap()).unwrap()
}

fn check(w: &weights::Weights, reference: &serde_json::Value, prefix: &str) {
    for (k, shape) in reference["__shapes__"].as_object().unwrap() {
        let t = w
            .get(&format!("{prefix}{k}"))
            .unwrap_or_else(|| panic!("missing {prefix}{k}; have {:?}", w.keys().collect::<Vec<_>>()));
        let shape: Vec<i64> = shape.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
        assert_eq!(t.size(), shape, "{k}");
        let want: Vec<f32> = reference[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
        let got: Vec<f32> = Vec::try_from(t.to_kind(Kind::Float).contiguous().view([-1])).unwrap();
        assert_eq!(got, want, "{k}");
    }
}

#[test]
fn torchscript_and_pth_load_and_round_trip_through_safetensors() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = make(tmp.path());
    let pt = weights::load(&tmp.path().join("openai_like.pt")).unwrap();
    check(&pt, &reference, "");
    assert_eq!(pt["visual.proj"].kind(), Kind::Half, "stored dtype is kept until applied to a model");
    let pth = weights::load(&tmp.path().join("froster.pth")).unwrap();
    check(&pth, &reference, "model.");
    assert!(pth.contains_key("projector_v.0.weight") && !pth.contains_key("epoch"));
    let student = layout::student_view(&pth);
    assert!(student.contains_key("visual.conv1.weight") && !student.keys().any(|k| k.starts_with("raw_model")));
    for (name, w) in [("pt", &pt), ("pth", &pth)] {
        let st = tmp.path().join(format!("{name}.safetensors"));
        weights::save(&st, w).unwrap();
        let back = weights::load(&st).unwrap();
        assert_eq!(back.len(), w.len());
        for (k, t) in w.iter() {
            assert!(t.equal(&back[k]), "{name}: {k} changed in the round trip");
        }
    }
}

fn zip_with_pickle(path: &Path, pickle: &[u8]) {
    let f = std::fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    z.start_file(
        "archive/data.pkl",
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
    )
    .unwrap();
    z.write_all(pickle).unwrap();
    z.finish().unwrap();
}

#[test]
fn malicious_pickles_are_refused_and_run_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("pwned");
    let cmd = format!("touch {}", marker.display());
    // os.system via GLOBAL + REDUCE (protocol 2).
    let mut p = b"\x80\x02cposix\nsystem\nq\x00X".to_vec();
    p.extend((cmd.len() as u32).to_le_bytes());
    p.extend(cmd.as_bytes());
    p.extend(b"q\x01\x85q\x02Rq\x03.");
    let bad = tmp.path().join("system.pth");
    zip_with_pickle(&bad, &p);
    let err = weights::load(&bad).unwrap_err().to_string();
    assert!(err.contains("posix.system") && err.contains("system.pth"), "{err}");
    // builtins.eval via STACK_GLOBAL (protocol 4).
    let mut e = b"\x80\x04\x8c\x08builtins\x94\x8c\x04eval\x94\x93\x94\x8c".to_vec();
    let code = format!("__import__('os').system('{cmd}')");
    e.push(code.len() as u8);
    e.extend(code.as_bytes());
    e.extend(b"\x94\x85\x94R\x94.");
    let err = check_plain_pickle(&e).unwrap_err().to_string();
    assert!(err.contains("builtins.eval"), "{err}");
    // An opcode outside the allowed set (INST) is named.
    let err = check_plain_pickle(b"(ios\nsystem\nS'ls'\n.").unwrap_err().to_string();
    assert!(err.contains("opcode 'i'"), "{err}");
    assert!(!marker.exists(), "a refused pickle ran code");
    // Not a checkpoint at all: a clear error naming the file.
    let junk = tmp.path().join("junk.bin");
    std::fs::write(&junk, b"hello world, not weights").unwrap();
    let err = weights::load(&junk).unwrap_err().to_string();
    assert!(err.contains("junk.bin"), "{err}");
}

/// bf16 against f32 on the golden teacher case (fixed weights and inputs): both the bf16-compute path over f32
/// master weights (what training uses on GPUs) and a store converted to bf16. Relative error = ||a - b|| / ||b||.
#[test]
fn bf16_forward_matches_f32() {
    let case = "clip_teacher";
    let w = froster_testkit::golden::case_weights(case);
    let cfg = froster_testkit::golden::case_config(case, &w);
    let inp = froster_testkit::golden::tensors(&format!("{case}/inputs.safetensors"));
    let (x, ids) = (&inp["images"], &inp["token_ids"]);
    let mut vs = nn::VarStore::new(Device::Cpu);
    let mut clip = Clip::new(&vs.root(), &cfg);
    weights::apply(&vs, &w, "").unwrap();
    let run = |clip: &Clip, x: &Tensor| tch::no_grad(|| (clip.encode_image(x, Some(8)), clip.encode_text(ids)));
    let (img, txt) = run(&clip, x);
    let rel = |a: &Tensor, b: &Tensor| {
        let b = b.to_kind(Kind::Float);
        (a - &b).norm().double_value(&[]) / a.norm().double_value(&[])
    };
    clip.set_compute(Some(Kind::BFloat16));
    let (img_c, txt_c) = run(&clip, x);
    clip.set_compute(None);
    vs.bfloat16();
    let (img_w, txt_w) = run(&clip, &x.to_kind(Kind::BFloat16));
    for (name, a, b) in [
        ("image", &img, &img_c),
        ("text", &txt, &txt_c),
        ("image (bf16 store)", &img, &img_w),
        ("text (bf16 store)", &txt, &txt_w),
    ] {
        let r = rel(a, b);
        assert!(r < 1e-2, "{name}: bf16 differs from f32 by {r:.3e} relative");
    }
}

#[test]
fn config_is_inferred_from_weights_and_presets_exist() {
    tch::manual_seed(0);
    let cfg = ClipConfig::tiny();
    let vs = nn::VarStore::new(Device::Cpu);
    let _ = Clip::new(&vs.root(), &cfg);
    let inferred = ClipConfig::from_weights(&weights::snapshot(&vs)).unwrap();
    assert_eq!(inferred, cfg);
    assert_eq!(ClipConfig::preset("ViT-B/16").unwrap().vision_patch_size, 16);
    assert_eq!(ClipConfig::preset("vit_l14").unwrap().vision_width, 1024);
    assert!(ClipConfig::preset("resnet50").is_err());
}
