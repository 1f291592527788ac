//! Reading and writing weights: safetensors, OpenAI TorchScript archives and torch.save zips (FROSTER .pth),
//! through the restricted pickle reader. Everything becomes a flat name -> f32 tensor map.
use crate::error::{Error, Result};
use crate::pickle;
use crate::tokenizer::VOCAB_SIZE;
use std::collections::HashMap;
use std::path::Path;
use tch::{nn::VarStore, Kind, Tensor};

/// A flat name -> tensor map: a state dict.
pub type Weights = HashMap<String, Tensor>;

/// Loads any readable format, detected from the file's first bytes.
pub fn load(path: &Path) -> Result<Weights> {
    let bad = |reason: String| Error::Checkpoint { path: path.into(), reason };
    let io = |source| Error::Io { path: path.into(), source };
    // The first 9 bytes tell the format; each reader then reads the file once.
    let mut head = [0u8; 9];
    let n = std::io::Read::read(&mut std::fs::File::open(path).map_err(io)?, &mut head).map_err(io)?;
    let mut w = if head[..n].starts_with(b"PK") {
        let file = std::io::BufReader::new(std::fs::File::open(path).map_err(io)?);
        pickle::read_torch_zip(file).map_err(|e| match e {
            Error::UnsafePickle(r) => Error::UnsafePickle(format!("{}: {r}", path.display())),
            Error::Pickle(r) => bad(r),
            other => other,
        })?
    } else if n == 9 && head[8] == b'{' {
        Tensor::read_safetensors(path).map_err(|e| bad(safetensors_words(&e.to_string())))?.into_iter().collect()
    } else {
        return Err(bad("neither safetensors nor a torch zip archive".into()));
    };
    rebuild_sparse_embedding(&mut w);
    Ok(w)
}

/// Writes safetensors (contiguous, in name order).
pub fn save(path: &Path, w: &Weights) -> Result<()> {
    let mut named: Vec<(&str, Tensor)> = w.iter().map(|(k, v)| (k.as_str(), v.contiguous())).collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    Tensor::write_safetensors(&named, path).map_err(|e| Error::Checkpoint { path: path.into(), reason: e.to_string() })
}

/// The golden files store `token_embedding.weight` sparsely as used_ids/used_rows; rebuild the dense matrix.
fn rebuild_sparse_embedding(w: &mut Weights) {
    if let (Some(ids), Some(rows)) = (w.remove("token_embedding.used_ids"), w.remove("token_embedding.used_rows")) {
        let vocab = w.get("vocab_size").map(|t| t.int64_value(&[])).unwrap_or(VOCAB_SIZE);
        let dense = Tensor::zeros([vocab, rows.size()[1]], (rows.kind(), rows.device()));
        let dense = dense.index_copy(0, &ids, &rows);
        w.insert("token_embedding.weight".into(), dense);
    }
}

/// Copies `w` into the store's variables whose names start with `prefix` (looked up without it), converted to
/// each variable's dtype (OpenAI's fp16 becomes f32). Extra keys are ignored (metadata, the teacher copy); a
/// variable without a key, or with another shape, is an error naming it.
pub fn apply(vs: &VarStore, w: &Weights, prefix: &str) -> Result<()> {
    let vars = vs.variables();
    let mut missing = Vec::new();
    tch::no_grad(|| {
        for (name, var) in vars.iter() {
            let Some(name) = name.strip_prefix(prefix) else {
                continue;
            };
            match w.get(name) {
                Some(src) if src.size() == var.size() => {
                    var.shallow_clone().copy_(&src.to_kind(var.kind()).to_device(var.device()));
                }
                Some(src) => {
                    return Err(Error::Shape { name: name.into(), checkpoint: src.size(), model: var.size() });
                }
                None => missing.push(name.to_string()),
            }
        }
        Ok(())
    })?;
    if !missing.is_empty() {
        missing.sort();
        return Err(Error::MissingTensors {
            count: missing.len(),
            examples: missing[..missing.len().min(5)].join(", "),
        });
    }
    Ok(())
}

/// f32 copies of every variable, keyed by name (for saving and averaging).
pub fn snapshot(vs: &VarStore) -> Weights {
    vs.variables().into_iter().map(|(k, v)| (k, v.detach().to_kind(Kind::Float).to_device(tch::Device::Cpu))).collect()
}

/// The safetensors crate's error names (e.g. "MetadataIncompleteBuffer") in words.
fn safetensors_words(raw: &str) -> String {
    const WORDS: [(&str, &str); 8] = [
        ("InvalidHeaderLength", "its header length points past the end of the file (truncated, or not safetensors)"),
        ("MetadataIncompleteBuffer", "the file is shorter than its header says: truncated"),
        ("HeaderTooSmall", "too small to hold a safetensors header"),
        ("HeaderTooLarge", "its header is larger than safetensors allows"),
        ("InvalidHeaderStart", "its header does not start with '{': not safetensors"),
        ("InvalidHeaderDeserialization", "its JSON header cannot be read"),
        ("InvalidOffset", "a tensor's byte range lies outside the data"),
        ("TensorInvalidInfo", "a tensor's shape and dtype do not match its byte count"),
    ];
    match WORDS.iter().find(|(name, _)| raw.contains(name)) {
        Some((_, words)) => format!("safetensors: {words}"),
        None => raw.to_string(),
    }
}
