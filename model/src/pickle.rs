//! A restricted pickle reader for torch.save zips and TorchScript archives. It interprets, and never runs: it
//! accepts tensor rebuilding, storages, OrderedDict/dict/list/tuple, plain scalars and strings, and TorchScript
//! module objects as plain attribute bags. Any other global or opcode is refused, naming it.
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::Read;
use tch::{Kind, Tensor};

#[derive(Debug)]
enum V {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<V>),
    List(Vec<V>),
    Dict(Vec<(V, V)>),
    Global(String),
    Storage(Tensor),
    Tensor(Tensor),
    Object(String, Box<V>),
    Mark,
}

impl Clone for V {
    fn clone(&self) -> Self {
        match self {
            V::None => V::None,
            V::Bool(b) => V::Bool(*b),
            V::Int(i) => V::Int(*i),
            V::Float(f) => V::Float(*f),
            V::Str(s) => V::Str(s.clone()),
            V::Bytes(b) => V::Bytes(b.clone()),
            V::Tuple(v) => V::Tuple(v.clone()),
            V::List(v) => V::List(v.clone()),
            V::Dict(v) => V::Dict(v.clone()),
            V::Global(g) => V::Global(g.clone()),
            V::Storage(t) => V::Storage(t.shallow_clone()),
            V::Tensor(t) => V::Tensor(t.shallow_clone()),
            V::Object(c, s) => V::Object(c.clone(), s.clone()),
            V::Mark => V::Mark,
        }
    }
}

fn allowed_global(name: &str) -> bool {
    matches!(
        name,
        "torch._utils._rebuild_tensor_v2"
            | "torch._utils._rebuild_parameter"
            | "collections.OrderedDict"
            | "torch.device"
    ) || name.starts_with("torch.jit._pickle.")
        || name.starts_with("__torch__.")
        || storage_kind(name).is_some()
}

fn storage_kind(name: &str) -> Option<Kind> {
    Some(match name.strip_prefix("torch.")? {
        "FloatStorage" => Kind::Float,
        "HalfStorage" => Kind::Half,
        "BFloat16Storage" => Kind::BFloat16,
        "DoubleStorage" => Kind::Double,
        "LongStorage" => Kind::Int64,
        "IntStorage" => Kind::Int,
        "ShortStorage" => Kind::Int16,
        "CharStorage" => Kind::Int8,
        "ByteStorage" => Kind::Uint8,
        "BoolStorage" => Kind::Bool,
        _ => return None,
    })
}

fn unsafe_(s: String) -> Error {
    Error::UnsafePickle(s)
}
fn bad(s: impl Into<String>) -> Error {
    Error::Config(s.into())
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<V>,
    memo: HashMap<u32, V>,
    storage: &'a mut dyn FnMut(&str, Kind) -> Result<Tensor>,
}

impl<'a> Unpickler<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos + n).ok_or_else(|| bad("pickle truncated"))?;
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn pop(&mut self) -> Result<V> {
        self.stack.pop().ok_or_else(|| bad("pickle stack underflow"))
    }
    fn pop_mark(&mut self) -> Result<Vec<V>> {
        let at = self.stack.iter().rposition(|v| matches!(v, V::Mark)).ok_or_else(|| bad("pickle MARK missing"))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }
    fn line(&mut self) -> Result<String> {
        let end = self.data[self.pos..].iter().position(|&b| b == b'\n').ok_or_else(|| bad("pickle truncated"))?;
        let s = String::from_utf8_lossy(&self.data[self.pos..self.pos + end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }
    fn string(&mut self, n: usize) -> Result<V> {
        Ok(V::Str(String::from_utf8_lossy(self.take(n)?).into_owned()))
    }
    fn global(&mut self, module: String, name: String) -> Result<V> {
        let full = format!("{module}.{name}");
        if !allowed_global(&full) {
            return Err(unsafe_(format!("global '{full}' is not allowed (only tensor rebuilding and containers)")));
        }
        Ok(V::Global(full))
    }

    fn run(mut self) -> Result<V> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?;
                }
                0x95 => {
                    self.take(8)?;
                }
                b'.' => return self.pop(),
                b'(' => self.stack.push(V::Mark),
                b'}' => self.stack.push(V::Dict(Vec::new())),
                b']' => self.stack.push(V::List(Vec::new())),
                b')' => self.stack.push(V::Tuple(Vec::new())),
                0x8f => self.stack.push(V::List(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(V::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let at = self.stack.len().checked_sub(n).ok_or_else(|| bad("pickle stack underflow"))?;
                    let items = self.stack.split_off(at);
                    self.stack.push(V::Tuple(items));
                }
                b's' => {
                    let (v, k) = (self.pop()?, self.pop()?);
                    self.dict_insert(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.dict_insert(items)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    self.list_extend(vec![v])?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark()?;
                    self.list_extend(items)?;
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.take(4)?.try_into().unwrap());
                    self.stack.push(V::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(V::Int(v as i64));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.take(2)?.try_into().unwrap());
                    self.stack.push(V::Int(v as i64));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, &x) in b.iter().enumerate().take(8) {
                        v |= (x as i64) << (8 * i);
                    }
                    if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(V::Int(v));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().unwrap());
                    self.stack.push(V::Float(v));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.take(8)?.try_into().unwrap()) as usize;
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                b'B' | b'C' => {
                    let n = if op == b'B' { self.u32()? as usize } else { self.u8()? as usize };
                    let b = self.take(n)?.to_vec();
                    self.stack.push(V::Bytes(b));
                }
                b'N' => self.stack.push(V::None),
                0x88 => self.stack.push(V::Bool(true)),
                0x89 => self.stack.push(V::Bool(false)),
                b'c' => {
                    let (m, n) = (self.line()?, self.line()?);
                    let g = self.global(m, n)?;
                    self.stack.push(g);
                }
                0x93 => {
                    let (n, m) = (self.pop()?, self.pop()?);
                    let (V::Str(m), V::Str(n)) = (m, n) else {
                        return Err(bad("STACK_GLOBAL without strings"));
                    };
                    let g = self.global(m, n)?;
                    self.stack.push(g);
                }
                b'R' | 0x81 => {
                    let (args, f) = (self.pop()?, self.pop()?);
                    let v = self.call(f, args)?;
                    self.stack.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.stack.last_mut() {
                        Some(V::Object(_, s)) => **s = state,
                        Some(_) => {}
                        None => return Err(bad("BUILD on empty stack")),
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent(pid)?;
                    self.stack.push(v);
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    self.memoize(k)?;
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memoize(k)?;
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memoize(k)?;
                }
                b'h' | b'j' => {
                    let k = if op == b'h' { self.u8()? as u32 } else { self.u32()? };
                    let v = self.memo.get(&k).cloned().ok_or_else(|| bad(format!("memo {k} missing")))?;
                    self.stack.push(v);
                }
                b'0' => {
                    self.pop()?;
                }
                other => return Err(unsafe_(format!("opcode {:?} (0x{other:02x}) is not allowed", other as char))),
            }
        }
    }

    fn memoize(&mut self, k: u32) -> Result<()> {
        let v = self.stack.last().cloned().ok_or_else(|| bad("memo of empty stack"))?;
        self.memo.insert(k, v);
        Ok(())
    }

    fn dict_insert(&mut self, items: Vec<V>) -> Result<()> {
        let Some(V::Dict(d)) = self.stack.last_mut() else {
            return Err(bad("SETITEM on a non-dict"));
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            d.push((k, v));
        }
        Ok(())
    }

    fn list_extend(&mut self, items: Vec<V>) -> Result<()> {
        match self.stack.last_mut() {
            Some(V::List(l)) => l.extend(items),
            _ => return Err(bad("APPEND on a non-list")),
        }
        Ok(())
    }

    fn persistent(&mut self, pid: V) -> Result<V> {
        let V::Tuple(t) = pid else {
            return Err(bad("persistent id is not a tuple"));
        };
        match t.as_slice() {
            [V::Str(tag), V::Global(ty), V::Str(key), _, _] if tag == "storage" => {
                let kind = storage_kind(ty).ok_or_else(|| unsafe_(format!("storage type '{ty}'")))?;
                Ok(V::Storage((self.storage)(key, kind)?))
            }
            _ => Err(unsafe_("persistent id other than a storage".into())),
        }
    }

    fn call(&mut self, f: V, args: V) -> Result<V> {
        let V::Global(name) = f else {
            return Err(unsafe_("call of a non-global".into()));
        };
        let args = match args {
            V::Tuple(a) => a,
            other => vec![other],
        };
        match name.as_str() {
            "torch._utils._rebuild_tensor_v2" => rebuild_tensor(&args),
            "torch._utils._rebuild_parameter" => args.into_iter().next().ok_or_else(|| bad("empty _rebuild_parameter")),
            "collections.OrderedDict" => Ok(V::Dict(Vec::new())),
            n if n.starts_with("__torch__.") => Ok(V::Object(n.into(), Box::new(V::None))),
            n if n.starts_with("torch.jit._pickle.") => Ok(args.into_iter().next().unwrap_or(V::None)),
            "torch.device" => Ok(V::Str(format!("{:?}", args.first()))),
            other => Err(unsafe_(format!("call of '{other}'"))),
        }
    }
}

fn ints(v: &V) -> Result<Vec<i64>> {
    match v {
        V::Tuple(t) | V::List(t) => {
            t.iter().map(|x| if let V::Int(i) = x { Ok(*i) } else { Err(bad("non-int in shape")) }).collect()
        }
        _ => Err(bad("shape is not a tuple")),
    }
}

fn rebuild_tensor(args: &[V]) -> Result<V> {
    let (Some(V::Storage(s)), Some(V::Int(offset)), Some(size), Some(stride)) =
        (args.first(), args.get(1), args.get(2), args.get(3))
    else {
        return Err(bad("malformed _rebuild_tensor_v2"));
    };
    let (size, stride) = (ints(size)?, ints(stride)?);
    Ok(V::Tensor(s.as_strided(size.as_slice(), stride.as_slice(), *offset).contiguous()))
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

/// Parses a pickle whose storages come from `storage(key, kind)`.
fn parse(data: &[u8], storage: &mut dyn FnMut(&str, Kind) -> Result<Tensor>) -> Result<V> {
    Unpickler { data, pos: 0, stack: Vec::new(), memo: HashMap::new(), storage }.run()
}

/// Reads a torch zip (torch.save or TorchScript) into name -> tensor. A checkpoint dict with `model_state`
/// or `state_dict` yields that dict's tensors.
pub fn read_torch_zip<R: Read + std::io::Seek>(archive: R) -> Result<HashMap<String, Tensor>> {
    let mut zip = zip::ZipArchive::new(archive).map_err(|e| bad(format!("bad zip: {e}")))?;
    let pkl = (0..zip.len())
        .filter_map(|i| zip.by_index(i).ok().map(|f| f.name().to_string()))
        .find(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .ok_or_else(|| bad("no data.pkl in the archive"))?;
    let root = pkl.trim_end_matches("data.pkl").to_string();
    let mut data = Vec::new();
    zip.by_name(&pkl).map_err(|e| bad(e.to_string()))?.read_to_end(&mut data).map_err(|e| bad(e.to_string()))?;
    let mut cache: HashMap<String, Tensor> = HashMap::new();
    let mut storage = |key: &str, kind: Kind| -> Result<Tensor> {
        if let Some(t) = cache.get(key) {
            return Ok(t.shallow_clone());
        }
        let mut raw = Vec::new();
        let name = format!("{root}data/{key}");
        zip.by_name(&name)
            .map_err(|e| bad(format!("{name}: {e}")))?
            .read_to_end(&mut raw)
            .map_err(|e| bad(e.to_string()))?;
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

/// Parses a bare pickle with no storages (for tests of refusal).
pub fn check_plain_pickle(data: &[u8]) -> Result<()> {
    parse(data, &mut |_, _| Err(bad("no storages here"))).map(|_| ())
}
