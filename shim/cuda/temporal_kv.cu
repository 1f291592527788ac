// Open-VCLIP's temporal keys and values as one gather and one fold: frame f of a clip of t frames attends to the
// keys of frames f+1, f-1 and f (zero blocks past the clip ends). The eager ops build them with five copies
// (zeros, two cats of shifted frames, one cat of the three) and fold the gradient back with as many; these read
// each input once and write each output once. One warp per row of d elements (the index arithmetic once per row);
// the strided side (the qkv projection's view, flash attention's gradient) needs only its last dimension
// contiguous. Included by kernels.cu with quick_gelu.cu's dtype helpers.

namespace {

// src [N, h, L, d] (strides sn, sh, sl, 1) -> dst [N, h, 3L, d] contiguous: blocks next, previous, own.
template <typename T>
__device__ void kv_gather(const T* __restrict__ src, long long sn, long long sh, long long sl, T* __restrict__ dst,
                          long long n, long long h, long long l, int d, long long t) {
  long long r = blockIdx.x * (long long)(blockDim.x / 32) + threadIdx.x / 32;
  if (r >= n * h * 3 * l) return;
  long long j = r % (3 * l), ih = (r / (3 * l)) % h, in = r / (3 * l * h);
  long long block = j / l, p = j % l, f = in % t;
  long long from = block == 0 ? f + 1 : (block == 1 ? f - 1 : f);  // the frame this block reads
  T* out = dst + r * d;
  if (from < 0 || from >= t) {
    for (int e = threadIdx.x % 32; e < d; e += 32) out[e] = from_f<T>(0.f);
    return;
  }
  const T* in_row = src + (in - f + from) * sn + ih * sh + p * sl;
  for (int e = threadIdx.x % 32; e < d; e += 32) out[e] = in_row[e];
}

// The gather's backward: g3 [N, h, 3L, d] (strides gn, gh, gl, 1) -> dk [N, h, L, d] contiguous, where frame f's
// gradient is its own block's, plus the "next" block of frame f-1 and the "previous" block of frame f+1 (f32 sum).
template <typename T>
__device__ void kv_fold(const T* __restrict__ g3, long long gn, long long gh, long long gl, T* __restrict__ dk,
                        long long n, long long h, long long l, int d, long long t) {
  long long r = blockIdx.x * (long long)(blockDim.x / 32) + threadIdx.x / 32;
  if (r >= n * h * l) return;
  long long p = r % l, ih = (r / l) % h, in = r / (l * h), f = in % t;
  const T* own = g3 + in * gn + ih * gh + (2 * l + p) * gl;
  const T* next_of_prev = f >= 1 ? g3 + (in - 1) * gn + ih * gh + p * gl : nullptr;
  const T* prev_of_next = f + 1 < t ? g3 + (in + 1) * gn + ih * gh + (l + p) * gl : nullptr;
  T* out = dk + r * d;
  for (int e = threadIdx.x % 32; e < d; e += 32) {
    float s = to_f(own[e]);
    if (next_of_prev) s += to_f(next_of_prev[e]);
    if (prev_of_next) s += to_f(prev_of_next[e]);
    out[e] = from_f<T>(s);
  }
}

}  // namespace

#define FROSTER_TEMPORAL_KV(T, NAME)                                                                               \
  extern "C" __global__ void temporal_kv_gather_##NAME(const T* src, long long sn, long long sh, long long sl,    \
                                                       T* dst, long long n, long long h, long long l, int d,       \
                                                       long long t) {                                            \
    kv_gather(src, sn, sh, sl, dst, n, h, l, d, t);                                                              \
  }                                                                                                              \
  extern "C" __global__ void temporal_kv_fold_##NAME(const T* g3, long long gn, long long gh, long long gl, T* dk, \
                                                     long long n, long long h, long long l, int d, long long t) {  \
    kv_fold(g3, gn, gh, gl, dk, n, h, l, d, t);                                                                  \
  }

FROSTER_TEMPORAL_KV(float, f32)
FROSTER_TEMPORAL_KV(__nv_bfloat16, bf16)
FROSTER_TEMPORAL_KV(__half, f16)
