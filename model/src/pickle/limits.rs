//! What a hostile pickle could make the reader do, bounded: nesting depth (stack), values copied through the memo
//! (memory), and tensor views outside their storage (out-of-bounds reads).
use super::{bad, V};
use crate::error::Result;

/// Deepest nesting accepted. Checkpoints nest a few levels (TorchScript module trees a few dozen); a hostile
/// pickle of 100,000 nested lists would overflow the stack when its value is dropped.
pub(super) const MAX_DEPTH: usize = 256;
/// Most values that memo references may copy in all: a few references to references would otherwise expand
/// exponentially (a "billion laughs").
pub(super) const MAX_COPIED: usize = 20_000_000;

/// (nesting depth, values) of `v`, walked without recursion; stops once past [`MAX_DEPTH`].
pub(super) fn measure(v: &V) -> (usize, usize) {
    let (mut todo, mut depth, mut nodes) = (vec![(v, 1usize)], 0, 0);
    while let Some((v, d)) = todo.pop() {
        (depth, nodes) = (depth.max(d), nodes + 1);
        if d > MAX_DEPTH {
            break;
        }
        match v {
            V::Tuple(x) | V::List(x) => todo.extend(x.iter().map(|c| (c, d + 1))),
            V::Dict(x) => todo.extend(x.iter().flat_map(|(k, c)| [(k, d + 1), (c, d + 1)])),
            V::Object(_, s) => todo.push((s, d + 1)),
            _ => {}
        }
    }
    (depth, nodes)
}

/// Checks that a view (offset, sizes, strides) stays inside a storage of `numel` elements, without overflow.
pub(super) fn in_storage(numel: i64, offset: i64, size: &[i64], stride: &[i64]) -> Result<()> {
    let malformed = |why: &str| bad(format!("tensor view {why} (offset {offset}, size {size:?}, stride {stride:?})"));
    if size.len() != stride.len() || offset < 0 || size.iter().chain(stride).any(|&x| x < 0) {
        return Err(malformed("is malformed"));
    }
    if size.contains(&0) {
        return Ok(());
    }
    let mut last = offset;
    for (&n, &s) in size.iter().zip(stride) {
        last = (n - 1).checked_mul(s).and_then(|x| last.checked_add(x)).ok_or_else(|| malformed("overflows"))?;
    }
    if last >= numel {
        return Err(malformed(&format!("reaches element {last} of a storage of {numel}")));
    }
    Ok(())
}
