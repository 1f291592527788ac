//! A restricted pickle reader for torch.save zips and TorchScript archives. It interprets, and never runs: it
//! accepts tensor rebuilding, storages, OrderedDict/dict/list/tuple, plain scalars and strings, and TorchScript
//! module objects as plain attribute bags. Any other global or opcode is refused, naming it.
mod archive;
mod limits;
mod op;

use crate::error::{Error, Result};
pub use archive::{check_plain_pickle, read_torch_zip};
use limits::{in_storage, measure, MAX_COPIED, MAX_DEPTH};
use std::collections::HashMap;
use tch::{Kind, Tensor};

#[derive(Debug)]
pub(crate) enum V {
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
pub(crate) fn bad(s: impl Into<String>) -> Error {
    Error::Pickle(s.into())
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<V>,
    memo: HashMap<u32, V>,
    storage: &'a mut dyn FnMut(&str, Kind) -> Result<Tensor>,
    /// Values copied out of the memo so far.
    copied: usize,
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
    /// Refuses values that would nest past [`MAX_DEPTH`] once put inside a container.
    fn nestable(items: &[V]) -> Result<()> {
        match items.iter().map(|v| measure(v).0).max() {
            Some(d) if d >= MAX_DEPTH => Err(bad(format!("pickle nests deeper than {MAX_DEPTH} levels"))),
            _ => Ok(()),
        }
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
                op::PROTO => {
                    self.u8()?;
                }
                op::FRAME => {
                    self.take(8)?;
                }
                op::STOP => return self.pop(),
                op::MARK => self.stack.push(V::Mark),
                op::EMPTY_DICT => self.stack.push(V::Dict(Vec::new())),
                op::EMPTY_LIST | op::EMPTY_SET => self.stack.push(V::List(Vec::new())),
                op::EMPTY_TUPLE => self.stack.push(V::Tuple(Vec::new())),
                op::TUPLE => {
                    let items = self.pop_mark()?;
                    Self::nestable(&items)?;
                    self.stack.push(V::Tuple(items));
                }
                op::TUPLE1 | op::TUPLE2 | op::TUPLE3 => {
                    let n = (op - op::TUPLE1 + 1) as usize;
                    let at = self.stack.len().checked_sub(n).ok_or_else(|| bad("pickle stack underflow"))?;
                    let items = self.stack.split_off(at);
                    Self::nestable(&items)?;
                    self.stack.push(V::Tuple(items));
                }
                op::SETITEM => {
                    let (v, k) = (self.pop()?, self.pop()?);
                    self.dict_insert(vec![k, v])?;
                }
                op::SETITEMS => {
                    let items = self.pop_mark()?;
                    self.dict_insert(items)?;
                }
                op::APPEND => {
                    let v = self.pop()?;
                    self.list_extend(vec![v])?;
                }
                op::APPENDS | op::ADDITEMS => {
                    let items = self.pop_mark()?;
                    self.list_extend(items)?;
                }
                op::BININT => {
                    let v = i32::from_le_bytes(self.take(4)?.try_into().unwrap());
                    self.stack.push(V::Int(v as i64));
                }
                op::BININT1 => {
                    let v = self.u8()?;
                    self.stack.push(V::Int(v as i64));
                }
                op::BININT2 => {
                    let v = u16::from_le_bytes(self.take(2)?.try_into().unwrap());
                    self.stack.push(V::Int(v as i64));
                }
                op::LONG1 => {
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
                op::BINFLOAT => {
                    let v = f64::from_be_bytes(self.take(8)?.try_into().unwrap());
                    self.stack.push(V::Float(v));
                }
                op::BINUNICODE => {
                    let n = self.u32()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                op::SHORT_BINUNICODE => {
                    let n = self.u8()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                op::BINUNICODE8 => {
                    let n = u64::from_le_bytes(self.take(8)?.try_into().unwrap()) as usize;
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                op::BINBYTES | op::SHORT_BINBYTES => {
                    let n = if op == op::BINBYTES { self.u32()? as usize } else { self.u8()? as usize };
                    let b = self.take(n)?.to_vec();
                    self.stack.push(V::Bytes(b));
                }
                op::NONE => self.stack.push(V::None),
                op::NEWTRUE => self.stack.push(V::Bool(true)),
                op::NEWFALSE => self.stack.push(V::Bool(false)),
                op::GLOBAL => {
                    let (m, n) = (self.line()?, self.line()?);
                    let g = self.global(m, n)?;
                    self.stack.push(g);
                }
                op::STACK_GLOBAL => {
                    let (n, m) = (self.pop()?, self.pop()?);
                    let (V::Str(m), V::Str(n)) = (m, n) else {
                        return Err(bad("STACK_GLOBAL without strings"));
                    };
                    let g = self.global(m, n)?;
                    self.stack.push(g);
                }
                op::REDUCE | op::NEWOBJ => {
                    let (args, f) = (self.pop()?, self.pop()?);
                    Self::nestable(std::slice::from_ref(&args))?;
                    let v = self.call(f, args)?;
                    self.stack.push(v);
                }
                op::BUILD => {
                    let state = self.pop()?;
                    Self::nestable(std::slice::from_ref(&state))?;
                    match self.stack.last_mut() {
                        Some(V::Object(_, s)) => **s = state,
                        Some(_) => {}
                        None => return Err(bad("BUILD on empty stack")),
                    }
                }
                op::BINPERSID => {
                    let pid = self.pop()?;
                    let v = self.persistent(pid)?;
                    self.stack.push(v);
                }
                op::BINPUT => {
                    let k = self.u8()? as u32;
                    self.memoize(k)?;
                }
                op::LONG_BINPUT => {
                    let k = self.u32()?;
                    self.memoize(k)?;
                }
                op::MEMOIZE => {
                    let k = self.memo.len() as u32;
                    self.memoize(k)?;
                }
                op::BINGET | op::LONG_BINGET => {
                    let k = if op == op::BINGET { self.u8()? as u32 } else { self.u32()? };
                    let v = self.memo.get(&k).ok_or_else(|| bad(format!("memo {k} missing")))?;
                    self.copied += measure(v).1;
                    if self.copied > MAX_COPIED {
                        return Err(bad(format!("pickle expands past {MAX_COPIED} values through memo references")));
                    }
                    self.stack.push(v.clone());
                }
                op::POP => {
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
        Self::nestable(&items)?;
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
        Self::nestable(&items)?;
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
    in_storage(s.numel() as i64, *offset, &size, &stride)?;
    let t = s.f_as_strided(size.as_slice(), stride.as_slice(), *offset).map_err(|e| bad(e.to_string()))?;
    Ok(V::Tensor(t.contiguous()))
}

/// Parses a pickle whose storages come from `storage(key, kind)`.
pub(crate) fn parse(data: &[u8], storage: &mut dyn FnMut(&str, Kind) -> Result<Tensor>) -> Result<V> {
    Unpickler { data, pos: 0, stack: Vec::new(), memo: HashMap::new(), storage, copied: 0 }.run()
}
