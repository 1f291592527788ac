//! froster-shim: what tch does not reach in the libtorch it links, through a small C++ shim (cpp/shim.h):
//! torch's own c10d process groups (TCPStore rendezvous, Gloo on CPU, NCCL on CUDA) for data-parallel training,
//! libtorch's fused AdamW and foreach gradient norm, the CUDA caching allocator's statistics, and a fused
//! QuickGELU autograd op whose CUDA kernels (cuda/) build.rs compiles with the torch wheel's nvcc, and CUDA graphs
//! of a step (libtorch's CUDAGraph). This crate
//! passes tch's tensor handles (`at::Tensor*`) through; nothing is copied.
#![deny(missing_docs)]
use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr::NonNull;
use std::time::Duration;
use tch::Tensor;

mod ffi;
mod graph;
mod ops;
mod stream;
pub mod trace;

pub use graph::CudaGraph;
pub use ops::{
    add_layer_norm_f32, fused_add_layer_norm, fused_layer_norm, fused_quick_gelu, fused_temporal_attention,
    kernels_status, layer_norm_f32, packed_attention, quick_gelu, temporal_attention, temporal_attention_keeps_less,
    temporal_attention_self_check,
};
pub use stream::{record_stream, SideStream};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Joining the group failed (the store at `addr:port` unreachable, a timeout, a bad argument).
    #[error("cannot join the {backend} process group at {addr}:{port} as rank {rank} of {world}: {message}")]
    Join {
        /// gloo or nccl.
        backend: String,
        /// The store's host.
        addr: String,
        /// The store's port.
        port: u16,
        /// This rank.
        rank: usize,
        /// The world size.
        world: usize,
        /// c10d's words.
        message: String,
    },
    /// A collective or store operation failed: a peer died, hung past the timeout, or the tensors disagree.
    #[error("{op} failed: {message} (a peer rank died, or hung past the timeout)")]
    Op {
        /// The operation.
        op: &'static str,
        /// c10d's words.
        message: String,
    },
    /// A local libtorch op of the shim failed (shapes, devices, dtypes).
    #[error("{op} failed: {message}")]
    Local {
        /// The operation.
        op: &'static str,
        /// libtorch's words.
        message: String,
    },
    /// A string with an interior NUL.
    #[error("'{0}' contains a NUL byte")]
    Nul(String),
}

/// A result of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// The collective engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Gloo: CPU tensors (and CUDA through host copies).
    Gloo,
    /// NCCL: CUDA tensors.
    Nccl,
}

impl Backend {
    /// Its name as torch spells it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Gloo => "gloo",
            Backend::Nccl => "nccl",
        }
    }
}

/// Whether this build can make NCCL groups (the torch wheel's CUDA and NCCL headers were there at build time).
pub fn has_nccl() -> bool {
    unsafe { ffi::fs_has_nccl() == 1 }
}

/// AdamW's hyper-parameters for [`fused_adamw`].
#[derive(Debug, Clone, Copy)]
pub struct AdamWParams {
    /// Learning rate.
    pub lr: f64,
    /// (beta1, beta2).
    pub betas: (f64, f64),
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Denominator epsilon.
    pub eps: f64,
}

/// torch.optim.AdamW(fused=True)'s update of all `params` at once (libtorch's `_fused_adamw_`): one kernel
/// launch per list instead of several per parameter. `steps` are float scalar tensors, incremented first. All
/// lists must have the same length, and each parameter its gradient and moments of the same shape and device.
pub fn fused_adamw(
    params: &[&Tensor],
    grads: &[&Tensor],
    exp_avgs: &[&Tensor],
    exp_avg_sqs: &[&Tensor],
    steps: &[&Tensor],
    h: AdamWParams,
) -> Result<()> {
    let n = params.len();
    if [grads.len(), exp_avgs.len(), exp_avg_sqs.len(), steps.len()].iter().any(|&l| l != n) {
        return Err(Error::Op { op: "fused AdamW", message: "lists of different lengths".into() });
    }
    let (p, g, m, v, s) = (handles(params), handles(grads), handles(exp_avgs), handles(exp_avg_sqs), handles(steps));
    let mut err = std::ptr::null_mut();
    let (b1, b2) = h.betas;
    let rc = unsafe {
        ffi::fs_fused_adamw(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            s.as_ptr(),
            n,
            h.lr,
            b1,
            b2,
            h.weight_decay,
            h.eps,
            &mut err,
        )
    };
    check_local("fused AdamW", rc, err)
}

/// clip_grad_norm_ over `grads` with foreach kernels (in place): the global L2 norm before clipping, as a 0-d
/// tensor (no host sync).
pub fn clip_grad_norm(grads: &[&Tensor], max_norm: f64) -> Result<Tensor> {
    let g = handles(grads);
    let mut total = Tensor::zeros([], (tch::Kind::Float, tch::Device::Cpu));
    let mut err = std::ptr::null_mut();
    let out = total.as_mut_ptr() as *mut c_void;
    let rc = unsafe { ffi::fs_clip_grad_norm(g.as_ptr(), g.len(), max_norm, out, &mut err) };
    check_local("foreach grad norm", rc, err)?;
    Ok(total)
}

/// The CUDA caching allocator's peak of allocated bytes on `device` since the last [`cuda_reset_peak`] (the
/// statistics torch.cuda.max_memory_allocated reads); None without CUDA.
pub fn cuda_peak_allocated(device: usize) -> Option<u64> {
    let v = unsafe { ffi::fs_cuda_peak_allocated(device.min(c_int::MAX as usize) as c_int, 0) };
    u64::try_from(v).ok()
}

/// Starts the peak of [`cuda_peak_allocated`] anew.
pub fn cuda_reset_peak(device: usize) {
    unsafe { ffi::fs_cuda_peak_allocated(device.min(c_int::MAX as usize) as c_int, 1) };
}

/// A c10d process group of `world` ranks, joined through a TCPStore that rank 0 hosts.
pub struct Group {
    raw: NonNull<ffi::fs_group>,
    rank: usize,
    world: usize,
}

// c10d's backends and stores are used from many threads in torch itself; every call here is a blocking call into
// them, with no Rust-side state.
unsafe impl Send for Group {}
unsafe impl Sync for Group {}

impl Group {
    /// Joins the store at `addr:port` and makes the group; `timeout` bounds the rendezvous and every collective.
    /// Rank 0 hosts the store, unless torchrun's agent already does (TORCHELASTIC_USE_AGENT_STORE=True).
    pub fn new(backend: Backend, addr: &str, port: u16, rank: usize, world: usize, timeout: Duration) -> Result<Self> {
        let agent_store = std::env::var("TORCHELASTIC_USE_AGENT_STORE").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        let c_backend = cstring(backend.name())?;
        let c_addr = cstring(addr)?;
        let mut err: *mut c_char = std::ptr::null_mut();
        let ms = timeout.as_millis().min(i64::MAX as u128) as i64;
        let (r, w) = (rank.min(c_int::MAX as usize) as c_int, world.min(c_int::MAX as usize) as c_int);
        let raw = unsafe {
            ffi::fs_group_new(
                c_backend.as_ptr(),
                c_addr.as_ptr(),
                port as c_int,
                r,
                w,
                !agent_store as c_int,
                ms,
                &mut err,
            )
        };
        match NonNull::new(raw) {
            Some(raw) => Ok(Group { raw, rank, world }),
            None => Err(Error::Join {
                backend: backend.name().into(),
                addr: addr.into(),
                port,
                rank,
                world,
                message: take_err(err),
            }),
        }
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn world(&self) -> usize {
        self.world
    }

    /// Sums each tensor over the ranks, in place; all are launched before any is waited for.
    pub fn allreduce_sum(&self, tensors: &[&Tensor]) -> Result<()> {
        let ptrs = handles(tensors);
        let mut err = std::ptr::null_mut();
        let rc = unsafe { ffi::fs_allreduce_sum(self.raw.as_ptr(), ptrs.as_ptr(), ptrs.len(), &mut err) };
        check("all-reduce", rc, err)
    }

    /// Rank `root`'s values into every rank's tensors, in place.
    pub fn broadcast(&self, tensors: &[&Tensor], root: usize) -> Result<()> {
        let ptrs = handles(tensors);
        let mut err = std::ptr::null_mut();
        let root = root.min(c_int::MAX as usize) as c_int;
        let rc = unsafe { ffi::fs_broadcast(self.raw.as_ptr(), ptrs.as_ptr(), ptrs.len(), root, &mut err) };
        check("broadcast", rc, err)
    }

    /// Waits until every rank gets here.
    pub fn barrier(&self) -> Result<()> {
        let mut err = std::ptr::null_mut();
        let rc = unsafe { ffi::fs_barrier(self.raw.as_ptr(), &mut err) };
        check("barrier", rc, err)
    }

    /// Sets `key` in the group's store.
    pub fn store_set(&self, key: &str, value: &[u8]) -> Result<()> {
        let k = cstring(key)?;
        let mut err = std::ptr::null_mut();
        let rc = unsafe { ffi::fs_store_set(self.raw.as_ptr(), k.as_ptr(), value.as_ptr(), value.len(), &mut err) };
        check("store set", rc, err)
    }

    /// Reads `key` from the group's store, None when it is not set.
    pub fn store_get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let k = cstring(key)?;
        let (mut out, mut len, mut found) = (std::ptr::null_mut(), 0usize, 0 as c_int);
        let mut err = std::ptr::null_mut();
        let rc =
            unsafe { ffi::fs_store_try_get(self.raw.as_ptr(), k.as_ptr(), &mut out, &mut len, &mut found, &mut err) };
        check("store get", rc, err)?;
        if found == 0 || out.is_null() {
            return Ok(None);
        }
        let v = unsafe { std::slice::from_raw_parts(out, len).to_vec() };
        unsafe { ffi::fs_free(out as *mut c_void) };
        Ok(Some(v))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        unsafe { ffi::fs_group_free(self.raw.as_ptr()) }
    }
}

fn handles(tensors: &[&Tensor]) -> Vec<*mut c_void> {
    tensors.iter().map(|t| t.as_ptr() as *mut c_void).collect()
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Nul(s.into()))
}

/// The handle a shim constructor returned, or (null) the error it reported through `err`.
fn made<T>(op: &'static str, raw: *mut T, err: *mut c_char) -> Result<NonNull<T>> {
    NonNull::new(raw).ok_or_else(|| Error::Local { op, message: take_err(err) })
}

/// The message of a caught panic (what `catch_unwind` returns), for an error that names it.
pub fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    match (p.downcast_ref::<String>(), p.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (_, Some(s)) => s.to_string(),
        _ => "a panic without a message".into(),
    }
}

/// Runs a shim call that reports through `err`, as [`check_local`] judges it.
fn call(op: &'static str, f: impl FnOnce(*mut *mut c_char) -> c_int) -> Result<()> {
    let mut err = std::ptr::null_mut();
    let rc = f(&mut err);
    check_local(op, rc, err)
}

/// [`check`] for local (non-collective) ops: the error has no peer to blame.
fn check_local(op: &'static str, rc: c_int, err: *mut c_char) -> Result<()> {
    match rc {
        0 => Ok(()),
        _ => Err(Error::Local { op, message: take_err(err) }),
    }
}

fn check(op: &'static str, rc: c_int, err: *mut c_char) -> Result<()> {
    match rc {
        0 => Ok(()),
        _ => Err(Error::Op { op, message: take_err(err) }),
    }
}

/// The shim's message, freed.
fn take_err(err: *mut c_char) -> String {
    ops::owned_string(err).map_or_else(|| "no message".into(), |s| s.trim().to_string())
}
