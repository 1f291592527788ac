// CLIP's LayerNorm over the last dimension, computed in f32 with f32 weight and bias and stored in the
// activations' dtype: one kernel forward (the eager path is three: a cast to f32, layer_norm, a cast back, with
// f32 copies in between) and two backward (dx per row; per-chunk partial sums of dweight and dbias that ATen adds).
// One warp per row, two passes over the row (mean, then the centred variance: what ATen's Welford gives, to the
// f32 rounding). The add_ variants also take the residual add before the LayerNorm: they write the sum (rounded to
// the activations' dtype, as the eager add) and normalise it, and backward adds the sum's own gradient to dx.
// Included by kernels.cu with quick_gelu.cu's dtype helpers.

namespace {

__device__ inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// With `r` (nullable) the row normalised is x + r, written to `sum` first; each lane reads back only what it wrote.
template <typename T>
__device__ void ln_forward(const T* x, const T* r, T* sum, const float* __restrict__ w, const float* __restrict__ b,
                           T* __restrict__ y, float* __restrict__ mean, float* __restrict__ rstd, long long rows,
                           int cols, float eps) {
  long long row = blockIdx.x * (long long)(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const T* xr = x + row * cols;
  float s = 0.f;
  if (r) {
    const T* rr = r + row * cols;
    T* sr = sum + row * cols;
    for (int c = lane; c < cols; c += 32) {
      T v = from_f<T>(to_f(xr[c]) + to_f(rr[c]));
      sr[c] = v;
      s += to_f(v);
    }
    xr = sr;
  } else {
    for (int c = lane; c < cols; c += 32) s += to_f(xr[c]);
  }
  float mu = warp_sum(s) / cols;
  float v = 0.f;
  for (int c = lane; c < cols; c += 32) {
    float d = to_f(xr[c]) - mu;
    v += d * d;
  }
  float rs = rsqrtf(warp_sum(v) / cols + eps);
  T* yr = y + row * cols;
  for (int c = lane; c < cols; c += 32) yr[c] = from_f<T>((to_f(xr[c]) - mu) * rs * w[c] + b[c]);
  if (lane == 0) {
    mean[row] = mu;
    rstd[row] = rs;
  }
}

// dx = rstd * (g w - mean(g w) - xhat mean(g w xhat)) (+ gsum, the gradient of the add's sum, when not null),
// per row.
template <typename T>
__device__ void ln_backward_dx(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ w,
                               const float* __restrict__ mean, const float* __restrict__ rstd,
                               const T* __restrict__ gsum, T* __restrict__ dx, long long rows, int cols) {
  long long r = blockIdx.x * (long long)(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const T *gr = g + r * cols, *xr = x + r * cols;
  float mu = mean[r], rs = rstd[r], a = 0.f, bsum = 0.f;
  for (int c = lane; c < cols; c += 32) {
    float gw = to_f(gr[c]) * w[c];
    a += gw;
    bsum += gw * (to_f(xr[c]) - mu) * rs;
  }
  a = warp_sum(a) / cols;
  bsum = warp_sum(bsum) / cols;
  T* dr = dx + r * cols;
  const T* gs = gsum ? gsum + r * cols : nullptr;
  for (int c = lane; c < cols; c += 32) {
    float xhat = (to_f(xr[c]) - mu) * rs;
    dr[c] = from_f<T>(rs * (to_f(gr[c]) * w[c] - a - xhat * bsum) + (gs ? to_f(gs[c]) : 0.f));
  }
}

// Blocks of 32 columns x 8 row lanes; block (i, j) sums rows [j * chunk, (j + 1) * chunk) of its columns into
// part_w[j, col] = sum g xhat and part_b[j, col] = sum g.
template <typename T>
__device__ void ln_backward_wb(const T* __restrict__ g, const T* __restrict__ x, const float* __restrict__ mean,
                               const float* __restrict__ rstd, float* __restrict__ part_w, float* __restrict__ part_b,
                               long long rows, int cols, long long chunk) {
  __shared__ float sw[8][33], sb[8][33];
  int col = blockIdx.x * 32 + threadIdx.x;
  long long start = blockIdx.y * chunk, end = min(rows, start + chunk);
  float aw = 0.f, ab = 0.f;
  if (col < cols) {
    for (long long r = start + threadIdx.y; r < end; r += 8) {
      float gv = to_f(g[r * cols + col]);
      aw += gv * (to_f(x[r * cols + col]) - mean[r]) * rstd[r];
      ab += gv;
    }
  }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && col < cols) {
    for (int i = 1; i < 8; i++) {
      aw += sw[i][threadIdx.x];
      ab += sb[i][threadIdx.x];
    }
    part_w[blockIdx.y * (long long)cols + col] = aw;
    part_b[blockIdx.y * (long long)cols + col] = ab;
  }
}

}  // namespace

#define FROSTER_LAYER_NORM(T, NAME)                                                                             \
  extern "C" __global__ void layer_norm_fwd_##NAME(const T* x, const float* w, const float* b, T* y, float* mean, \
                                                   float* rstd, long long rows, int cols, float eps) {            \
    ln_forward<T>(x, nullptr, nullptr, w, b, y, mean, rstd, rows, cols, eps);                                   \
  }                                                                                                             \
  extern "C" __global__ void add_layer_norm_fwd_##NAME(const T* x, const T* r, T* sum, const float* w,            \
                                                       const float* b, T* y, float* mean, float* rstd,            \
                                                       long long rows, int cols, float eps) {                     \
    ln_forward<T>(x, r, sum, w, b, y, mean, rstd, rows, cols, eps);                                             \
  }                                                                                                             \
  extern "C" __global__ void layer_norm_bwd_dx_##NAME(const T* g, const T* x, const float* w, const float* mean,  \
                                                      const float* rstd, const T* gsum, T* dx, long long rows,    \
                                                      int cols) {                                                 \
    ln_backward_dx(g, x, w, mean, rstd, gsum, dx, rows, cols);                                                  \
  }                                                                                                             \
  extern "C" __global__ void layer_norm_bwd_wb_##NAME(const T* g, const T* x, const float* mean, const float* rstd, \
                                                      float* part_w, float* part_b, long long rows, int cols,     \
                                                      long long chunk) {                                          \
    ln_backward_wb(g, x, mean, rstd, part_w, part_b, rows, cols, chunk);                                        \
  }

FROSTER_LAYER_NORM(float, f32)
FROSTER_LAYER_NORM(__nv_bfloat16, bf16)
FROSTER_LAYER_NORM(__half, f16)
