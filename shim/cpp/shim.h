// froster-shim: the C API over libtorch's own c10d (TCPStore, ProcessGroupGloo, ProcessGroupNCCL).
// Tensors are passed as tch's handles, which are `at::Tensor*`: nothing is copied.
// Every call that can fail returns 0 on success, or -1 with *err set to a malloc'd message (free with fs_free).
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fs_group fs_group;

// Joins the TCPStore at master_addr:port (rank 0 hosts it when host_store is 1; torchrun's agent hosts it
// otherwise), then makes the process group of `backend` ("gloo" or "nccl"). `timeout_ms` bounds the rendezvous
// and every collective.
fs_group* fs_group_new(const char* backend, const char* master_addr, int port, int rank, int world,
                       int host_store, int64_t timeout_ms, char** err);
void fs_group_free(fs_group* g);
// 1 when this build can make NCCL groups.
int fs_has_nccl(void);

// In-place sum over ranks of each tensor; all are launched before any is waited for.
int fs_allreduce_sum(fs_group* g, void* const* tensors, size_t n, char** err);
// Rank `root`'s values into every rank's tensors, in place.
int fs_broadcast(fs_group* g, void* const* tensors, size_t n, int root, char** err);
int fs_barrier(fs_group* g, char** err);

// The store shared by the group (heartbeats, small agreements).
int fs_store_set(fs_group* g, const char* key, const uint8_t* data, size_t len, char** err);
// Reads `key` if it is there: *found = 0 when it is not; *out is malloc'd (free with fs_free).
int fs_store_try_get(fs_group* g, const char* key, uint8_t** out, size_t* len, int* found, char** err);

// AdamW (torch.optim.AdamW's update, no amsgrad) over n parameters at once with libtorch's fused kernel: each
// `steps` tensor (a float scalar per parameter) is incremented first, then used for the bias corrections.
int fs_fused_adamw(void* const* params, void* const* grads, void* const* exp_avgs, void* const* exp_avg_sqs,
                   void* const* steps, size_t n, double lr, double beta1, double beta2, double weight_decay,
                   double eps, char** err);
// clip_grad_norm_ with foreach kernels: scales the gradients in place so their global L2 norm is at most
// max_norm, and writes the norm before clipping (a 0-d tensor) into *total_out (an at::Tensor*).
int fs_clip_grad_norm(void* const* grads, size_t n, double max_norm, void* total_out, char** err);

// Peak bytes the CUDA caching allocator has handed out on `device` since the last reset (reset = 1 starts anew);
// -1 when this build has no CUDA headers or the device does not exist.
int64_t fs_cuda_peak_allocated(int device, int reset);

// QuickGELU (x * sigmoid(1.702 x)) as one autograd op that keeps only x for backward: fused CUDA kernels on CUDA
// tensors (f32, bf16, f16) when this build has them and the device loads them, ATen's ops otherwise. Writes the
// result into *out (an at::Tensor*).
int fs_quick_gelu(void* x, void* out, char** err);
// CLIP's LayerNorm (over the last dimension, computed in f32, returned in x's dtype) as one autograd op that keeps
// x in its own dtype for backward instead of its f32 copy. Writes the result into *out (an at::Tensor*).
int fs_layer_norm_f32(void* x, void* w, void* b, double eps, void* out, char** err);
// The residual add x + r and fs_layer_norm_f32 of the sum, as one autograd op (one kernel on CUDA): writes the sum
// into *sum and its LayerNorm into *y (at::Tensor*). Shapes that broadcast run ATen's add, then fs_layer_norm_f32.
int fs_add_layer_norm_f32(void* x, void* r, void* w, void* b, double eps, void* sum, void* y, char** err);
// Open-VCLIP's temporal attention of q, k, v [N, heads, L, d] over clips of t frames (keys and values of frames
// t+1, t-1, t; zeros past the clip ends), SDPA's scaling, no mask: one autograd op that keeps only q, k, v and
// flash attention's output for backward where the dispatcher picks flash attention (attention.cpp), the eager
// ops otherwise. Writes the result into *out (an at::Tensor*).
int fs_temporal_attention(void* q, void* k, void* v, int64_t t, void* out, char** err);
// The op's self-check (against the eager ops, values and gradients) on like's device and dtype: "" when they
// agree, else why not (malloc'd: free with fs_free). On CUDA the op runs it once before first use.
char* fs_temporal_attention_check(void* like);
// 1 when fs_temporal_attention runs its own op for these inputs, 0 when it runs the eager ops.
int fs_temporal_attention_keeps_less(void* q, void* k, void* v);
// Causal attention within sequences packed end to end: q, k, v [1, heads, T, d], offsets [seqs + 1] (int64, each
// sequence's start and the total), max_len the longest sequence. Flash attention's variable-length kernel (CUDA,
// bf16/f16 only; an error elsewhere), differentiable through ATen's autograd. Writes into *out (an at::Tensor*).
int fs_packed_attention(void* q, void* k, void* v, void* offsets, int64_t max_len, void* out, char** err);
// What the fused kernels can do here, in words (malloc'd: free with fs_free).
char* fs_kernels_status(void);

// A CUDA graph on `device` with a side stream of its own (graph.cpp). `enter` makes that stream current (what is
// already queued elsewhere is not waited for: the caller waits for the device), `exit` sets the previous one back.
// Between capture_begin and capture_end (inside enter/exit) work is recorded, not run; replay runs it again on the
// current stream with the same memory. Fails without CUDA headers in this build or without the device.
typedef struct fs_graph fs_graph;
fs_graph* fs_graph_new(int device, char** err);
int fs_graph_enter(fs_graph* g, char** err);
int fs_graph_exit(fs_graph* g, char** err);
int fs_graph_capture_begin(fs_graph* g, char** err);
int fs_graph_capture_end(fs_graph* g, char** err);
int fs_graph_replay(fs_graph* g, char** err);
void fs_graph_free(fs_graph* g);

// A side stream from c10's pool on `device` (stream.cpp): make_current sets it as the calling thread's current
// stream (c10 keeps one per thread), synchronize waits for its work. record_stream marks a CUDA tensor as used by
// the calling thread's current stream (at::Tensor::record_stream). Fail without CUDA headers or the device.
typedef struct fs_stream fs_stream;
fs_stream* fs_stream_new(int device, char** err);
int fs_stream_make_current(fs_stream* s, char** err);
int fs_stream_synchronize(fs_stream* s, char** err);
int fs_record_stream(void* tensor, char** err);
void fs_stream_free(fs_stream* s);

// libtorch's profiler (trace.cpp) over what runs from start to stop: the calling thread's CPU ops, and with
// `device` non-zero the device's kernels and copies. stop returns one malloc'd line per event in *out (free with
// fs_free): "device" or "cpu", start ns, end ns and the name, tab-separated. stop without a start fails.
int fs_trace_start(int device, char** err);
int fs_trace_stop(char** out, char** err);

void fs_free(void* p);

#ifdef __cplusplus
}
#endif
