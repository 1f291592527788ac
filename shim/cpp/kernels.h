// The CUDA kernels of cuda/ (see kernels.cpp): each returns false when it did not run (not a CUDA tensor, a dtype
// or layout without a kernel, or kernels not built, not loadable, or failing their self-check), and the caller
// computes the same thing in ATen.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <functional>
#include <string>
#include <tuple>

namespace froster_kernels {
bool quick_gelu_forward(const at::Tensor& x, at::Tensor& y);
bool quick_gelu_backward(const at::Tensor& g, const at::Tensor& x, at::Tensor& dx);
// CLIP's LayerNorm over the last dimension in f32 (f32 weight and bias), y in x's dtype; mean and rstd are f32,
// shaped as ATen's native_layer_norm returns them.
bool layer_norm_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps, at::Tensor& y,
                        at::Tensor& mean, at::Tensor& rstd);
// The same of sum = x + r (same dtype and shape), which it writes too: the residual add and the next LayerNorm in
// one pass.
bool add_layer_norm_forward(const at::Tensor& x, const at::Tensor& r, const at::Tensor& w, const at::Tensor& b,
                            double eps, at::Tensor& sum, at::Tensor& y, at::Tensor& mean, at::Tensor& rstd);
// Their backward from the forward's input (x, or the sum), mean and rstd: dx in x's dtype, plus `gsum` when defined
// (the sum's gradient from its other uses), and dw and db (f32) when `wb`.
bool layer_norm_backward(const at::Tensor& g, const at::Tensor& x, const at::Tensor& w, const at::Tensor& mean,
                         const at::Tensor& rstd, const at::Tensor& gsum, bool wb, at::Tensor& dx, at::Tensor& dw,
                         at::Tensor& db);
// Open-VCLIP's temporal keys: k [N, h, L, d] (last dimension contiguous) -> [N, h, 3L, d] (frames f+1, f-1, f of
// clips of t frames, zeros past the ends), and the gradient's fold back to [N, h, L, d].
bool temporal_kv_gather(const at::Tensor& k, int64_t t, at::Tensor& out);
bool temporal_kv_fold(const at::Tensor& g3, int64_t t, at::Tensor& out);

// The same formulas in ATen ops (activation.cpp, attention.cpp), in f32 at least, returned in x's dtype: the fallback, and the
// kernels' self-check.
at::Tensor quick_gelu_aten(const at::Tensor& x);
at::Tensor quick_gelu_backward_aten(const at::Tensor& g, const at::Tensor& x);
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_aten(const at::Tensor& x, const at::Tensor& w,
                                                               const at::Tensor& b, double eps);
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward_aten(const at::Tensor& g, const at::Tensor& x,
                                                                        const at::Tensor& w, const at::Tensor& b,
                                                                        const at::Tensor& mean,
                                                                        const at::Tensor& rstd,
                                                                        std::array<bool, 3> mask);
at::Tensor temporal_kv_aten(const at::Tensor& k, int64_t t);
at::Tensor temporal_fold_aten(const at::Tensor& g3, int64_t t);
// What this build and device have: "compiled for ...", "not compiled: ...", or the reason loading failed.
std::string status();

// kernels.cpp's launcher, shared by the kernel families.
namespace detail {
struct Dims {
  unsigned x, y;
};
// "f32", "bf16", "f16", or nullptr for a dtype without kernels.
const char* suffix(at::ScalarType t);
// Launches kernel `name` on `ref`'s device and current stream; false when the kernels cannot run here.
bool launch(const std::string& name, const at::Tensor& ref, void** args, Dims grid, Dims block);
// Runs `check` (on the device, waiting for it) once per process for `family`; true when it returned "" (the
// replacement agrees with ATen), else the reason joins status() (self_check.cpp, in every build).
bool self_checked(const char* family, const std::function<std::string()>& check);
// The self-checks that failed, in words ("" when none).
std::string failures();
}  // namespace detail
}  // namespace froster_kernels
