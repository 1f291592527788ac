//! torch.save zips and TorchScript archives: `<root>/data.pkl` plus one file per storage under `<root>/data/`.
use super::{bad, parse, V};
use crate::error::Result;
use std::collections::HashMap;
use std::io::Read;
use tch::{Kind, Tensor};

/// Reads a torch zip (torch.save or TorchScript) into name -> tensor. A checkpoint dict with `model_state`
/// or `state_dict` yields that dict's tensors.
pub fn read_torch_zip<R: Read + std::io::Seek>(archive: R) -> Result<HashMap<String, Tensor>> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| bad(format!("bad zip: {e}")))?;
    let pkl = (0..zip.len())
        .filter_map(|i| zip.by_index(i).ok().map(|f| f.name().to_string()))
        .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .ok_or_else(|| bad("no data.pkl in the archive"))?;
    let root = pkl.trim_end_matches("data.pkl").to_string();
    let data = read_bounded(zip.by_name(&pkl).map_err(|e| bad(e.to_string()))?, MAX_PICKLE)?;
    let mut cache: HashMap<String, Tensor> = HashMap::new();
    let mut storage = |key: &str, kind: Kind| -> Result<Tensor> {
        if let Some(t) = cache.get(key) {
            return Ok(t.shallow_clone());
        }
        let name = format!("{root}data/{key}");
        let raw = read_bounded(zip.by_name(&name).map_err(|e| bad(format!("{name}: {e}")))?, MAX_STORAGE)?;
        let n = raw.len() as i64 / kind.elt_size_in_bytes() as i64;
        let t = Tensor::from_data_size(&raw, &[n], kind);
        cache.insert(key.to_string(), t.shallow_clone());
        Ok(t)
    };
    let top = parse(&data, &mut storage)?;
    let state = match &top {
        V::Dict(d) => d
            .iter()
            .find(|(k, _)| matches!(k, V::Str(s) if s == "model_state" || s == "state_dict"))
            .map(|(_, v)| v.clone())
            .unwrap_or(top.clone()),
        _ => top.clone(),
    };
    let mut out = HashMap::new();
    flatten(&state, "", &mut out);
    Ok(out)
}

/// The largest `data.pkl` read: checkpoints' pickles are kilobytes to a few megabytes.
const MAX_PICKLE: u64 = 256 << 20;
/// The largest storage read (one tensor's bytes): a ViT-L/14's biggest is under 100 MB.
const MAX_STORAGE: u64 = 4 << 30;
/// A large entry that inflates more than this is a deflate bomb, not weights (which barely compress).
const MAX_RATIO: u64 = 100;

/// Reads a zip entry, refusing before allocating when its declared size is over `limit` or a large entry inflates
/// like a bomb, and never reading past what it declared.
fn read_bounded(mut f: zip::read::ZipFile<'_, impl Read>, limit: u64) -> Result<Vec<u8>> {
    let (name, size, packed) = (f.name().to_string(), f.size(), f.compressed_size().max(1));
    if size > limit {
        return Err(bad(format!("{name}: {size} bytes, more than the {limit} a checkpoint entry may hold")));
    }
    if size > 64 << 20 && size / packed > MAX_RATIO {
        return Err(bad(format!("{name}: {size} bytes deflated into {packed}: a zip bomb, not tensor data")));
    }
    let mut out = Vec::with_capacity(size as usize);
    (&mut f).take(size + 1).read_to_end(&mut out).map_err(|e| bad(format!("{name}: {e}")))?;
    if out.len() as u64 != size {
        return Err(bad(format!("{name}: holds {} bytes, its header says {size}", out.len())));
    }
    Ok(out)
}

/// Parses a bare pickle with no storages (for tests of refusal).
pub fn check_plain_pickle(data: &[u8]) -> Result<()> {
    parse(data, &mut |_, _| Err(bad("no storages here"))).map(|_| ())
}

/// Collects the tensors of a parsed pickle by dotted path, descending into dicts, lists and objects.
fn flatten(v: &V, prefix: &str, out: &mut HashMap<String, Tensor>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        V::Tensor(t) => {
            out.insert(prefix.to_string(), t.shallow_clone());
        }
        V::Dict(d) => {
            for (k, v) in d {
                let key = match k {
                    V::Str(s) => s.clone(),
                    V::Int(i) => i.to_string(),
                    _ => continue,
                };
                flatten(v, &join(&key), out);
            }
        }
        V::List(l) | V::Tuple(l) => l.iter().enumerate().for_each(|(i, v)| flatten(v, &join(&i.to_string()), out)),
        V::Object(_, s) => flatten(s, prefix, out),
        _ => {}
    }
}
