// The CUDA kernels of cuda/ (see kernels.cpp): each returns false when it did not run (not a CUDA tensor, a dtype
// without a kernel, or kernels not built or not loadable), and the caller computes the same thing in ATen.
#pragma once
#include <ATen/ATen.h>

#include <string>

namespace froster_kernels {
bool quick_gelu_forward(const at::Tensor& x, at::Tensor& y);
bool quick_gelu_backward(const at::Tensor& g, const at::Tensor& x, at::Tensor& dx);
// The same formulas in ATen ops (activation.cpp), in f32 at least, returned in x's dtype: the fallback, and the
// kernels' self-check.
at::Tensor quick_gelu_aten(const at::Tensor& x);
at::Tensor quick_gelu_backward_aten(const at::Tensor& g, const at::Tensor& x);
// What this build and device have: "compiled for ...", "not compiled: ...", or the reason loading failed.
std::string status();
}  // namespace froster_kernels
