// QuickGELU, y = x * sigmoid(1.702 x), forward and backward in one pass each, computed in f32 whatever the storage
// dtype. Eager libtorch runs it as three kernels forward and five backward and keeps two activations for
// backward; these keep only x. Compiled by build.rs with the torch wheel's nvcc into a fatbin that cpp/kernels.cpp
// loads through the CUDA driver: no CUDA runtime is linked.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace {
constexpr float kAlpha = 1.702f;

__device__ inline float to_f(float v) { return v; }
__device__ inline float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ inline float to_f(__half v) { return __half2float(v); }

template <typename T> __device__ inline T from_f(float v);
template <> __device__ inline float from_f<float>(float v) { return v; }
template <> __device__ inline __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16(v); }
template <> __device__ inline __half from_f<__half>(float v) { return __float2half(v); }

__device__ inline float sigmoid(float v) { return 1.f / (1.f + __expf(-kAlpha * v)); }

template <typename T> __device__ void forward(const T* __restrict__ x, T* __restrict__ y, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = to_f(x[i]);
    y[i] = from_f<T>(v * sigmoid(v));
  }
}

// d/dx [x s(ax)] = s + a x s (1 - s)
template <typename T>
__device__ void backward(const T* __restrict__ g, const T* __restrict__ x, T* __restrict__ dx, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = to_f(x[i]), s = sigmoid(v);
    dx[i] = from_f<T>(to_f(g[i]) * s * (1.f + kAlpha * v * (1.f - s)));
  }
}
}  // namespace

#define FROSTER_QUICK_GELU(T, NAME)                                                                           \
  extern "C" __global__ void quick_gelu_fwd_##NAME(const T* x, T* y, long long n) { forward(x, y, n); }       \
  extern "C" __global__ void quick_gelu_bwd_##NAME(const T* g, const T* x, T* dx, long long n) {              \
    backward(g, x, dx, n);                                                                                    \
  }

FROSTER_QUICK_GELU(float, f32)
FROSTER_QUICK_GELU(__nv_bfloat16, bf16)
FROSTER_QUICK_GELU(__half, f16)
