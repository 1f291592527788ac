//! The C API of cpp/shim.h.
#![allow(non_camel_case_types, missing_docs)]
use std::ffi::{c_char, c_int, c_void};

#[repr(C)]
pub struct fs_group {
    _private: [u8; 0],
}

#[repr(C)]
pub struct fs_graph {
    _private: [u8; 0],
}

#[repr(C)]
pub struct fs_stream {
    _private: [u8; 0],
}

extern "C" {
    pub fn fs_group_new(
        backend: *const c_char,
        master_addr: *const c_char,
        port: c_int,
        rank: c_int,
        world: c_int,
        host_store: c_int,
        timeout_ms: i64,
        err: *mut *mut c_char,
    ) -> *mut fs_group;
    pub fn fs_group_free(g: *mut fs_group);
    pub fn fs_has_nccl() -> c_int;
    pub fn fs_allreduce_sum(g: *mut fs_group, tensors: *const *mut c_void, n: usize, err: *mut *mut c_char) -> c_int;
    pub fn fs_broadcast(
        g: *mut fs_group,
        tensors: *const *mut c_void,
        n: usize,
        root: c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_barrier(g: *mut fs_group, err: *mut *mut c_char) -> c_int;
    pub fn fs_store_set(
        g: *mut fs_group,
        key: *const c_char,
        data: *const u8,
        len: usize,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_store_try_get(
        g: *mut fs_group,
        key: *const c_char,
        out: *mut *mut u8,
        len: *mut usize,
        found: *mut c_int,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_fused_adamw(
        params: *const *mut c_void,
        grads: *const *mut c_void,
        exp_avgs: *const *mut c_void,
        exp_avg_sqs: *const *mut c_void,
        steps: *const *mut c_void,
        n: usize,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_clip_grad_norm(
        grads: *const *mut c_void,
        n: usize,
        max_norm: f64,
        total_out: *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_cuda_peak_allocated(device: c_int, reset: c_int) -> i64;
    pub fn fs_quick_gelu(x: *mut c_void, out: *mut c_void, err: *mut *mut c_char) -> c_int;
    pub fn fs_kernels_status() -> *mut c_char;
    pub fn fs_temporal_attention_check(like: *mut c_void) -> *mut c_char;
    pub fn fs_temporal_attention_keeps_less(q: *mut c_void, k: *mut c_void, v: *mut c_void) -> c_int;
    pub fn fs_temporal_attention(
        q: *mut c_void,
        k: *mut c_void,
        v: *mut c_void,
        t: i64,
        out: *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_layer_norm_f32(
        x: *mut c_void,
        w: *mut c_void,
        b: *mut c_void,
        eps: f64,
        out: *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_packed_attention(
        q: *mut c_void,
        k: *mut c_void,
        v: *mut c_void,
        offsets: *mut c_void,
        max_len: i64,
        out: *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_add_layer_norm_f32(
        x: *mut c_void,
        r: *mut c_void,
        w: *mut c_void,
        b: *mut c_void,
        eps: f64,
        sum: *mut c_void,
        y: *mut c_void,
        err: *mut *mut c_char,
    ) -> c_int;
    pub fn fs_graph_new(device: c_int, err: *mut *mut c_char) -> *mut fs_graph;
    pub fn fs_graph_enter(g: *mut fs_graph, err: *mut *mut c_char) -> c_int;
    pub fn fs_graph_exit(g: *mut fs_graph, err: *mut *mut c_char) -> c_int;
    pub fn fs_graph_capture_begin(g: *mut fs_graph, err: *mut *mut c_char) -> c_int;
    pub fn fs_graph_capture_end(g: *mut fs_graph, err: *mut *mut c_char) -> c_int;
    pub fn fs_graph_replay(g: *mut fs_graph, err: *mut *mut c_char) -> c_int;
    pub fn fs_graph_free(g: *mut fs_graph);
    pub fn fs_stream_new(device: c_int, err: *mut *mut c_char) -> *mut fs_stream;
    pub fn fs_stream_make_current(s: *mut fs_stream, err: *mut *mut c_char) -> c_int;
    pub fn fs_stream_synchronize(s: *mut fs_stream, err: *mut *mut c_char) -> c_int;
    pub fn fs_record_stream(tensor: *mut c_void, err: *mut *mut c_char) -> c_int;
    pub fn fs_stream_free(s: *mut fs_stream);
    pub fn fs_trace_start(device: c_int, err: *mut *mut c_char) -> c_int;
    pub fn fs_trace_stop(out: *mut *mut c_char, err: *mut *mut c_char) -> c_int;
    pub fn fs_free(p: *mut c_void);
}
