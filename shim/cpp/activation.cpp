// Autograd ops that keep less for backward than the eager ops they replace (the same values):
// - QuickGELU keeps only its input (eager keeps it and the sigmoid). On CUDA it runs cuda/quick_gelu.cu's kernels,
//   loaded from the fatbin build.rs embeds through the driver API (dlopen'd libcuda, which torch has loaded
//   already); elsewhere, or when the kernels cannot load, the same formulas in ATen.
// - LayerNorm computed in f32 keeps its input in its own dtype (bf16: half the bytes) and casts it again in
//   backward, where eager keeps the f32 copy it normalised.
#include "shim.h"
#include "guard.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "kernels.h"

namespace froster_kernels {

constexpr double kAlpha = 1.702;

// In f32 at least (as the kernels), in the input's own type when wider.
static at::ScalarType compute_type(const at::Tensor& x) { return at::promote_types(x.scalar_type(), at::kFloat); }

at::Tensor quick_gelu_aten(const at::Tensor& x) {
  auto v = x.to(compute_type(x));
  return (v * at::sigmoid(v * kAlpha)).to(x.scalar_type());
}

at::Tensor quick_gelu_backward_aten(const at::Tensor& g, const at::Tensor& x) {
  auto v = x.to(compute_type(x));
  auto s = at::sigmoid(v * kAlpha);
  return (g.to(v.scalar_type()) * s * (1 + kAlpha * v * (1 - s))).to(x.scalar_type());
}

}  // namespace froster_kernels

namespace {

struct QuickGelu : public torch::autograd::Function<QuickGelu> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    auto xc = x.contiguous();
    ctx->save_for_backward({xc});
    at::Tensor y;
    if (froster_kernels::quick_gelu_forward(xc, y)) return y;
    return froster_kernels::quick_gelu_aten(xc);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto x = ctx->get_saved_variables()[0];
    auto g = grads[0].contiguous();
    at::Tensor dx;
    if (froster_kernels::quick_gelu_backward(g, x, dx)) return {dx};
    return {froster_kernels::quick_gelu_backward_aten(g, x)};
  }
};

// CLIP's LayerNorm: normalised in f32 over the last dimension, returned in the input's dtype.
struct LayerNormF32 : public torch::autograd::Function<LayerNormF32> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b, double eps) {
    auto [y, mean, rstd] =
        at::native_layer_norm(x.to(at::kFloat), {x.size(-1)}, w.to(at::kFloat), b.to(at::kFloat), eps);
    ctx->save_for_backward({x, w, b, mean, rstd});
    return y.to(x.scalar_type());
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto s = ctx->get_saved_variables();
    const auto &x = s[0], &w = s[1], &b = s[2];
    auto [dx, dw, db] = at::native_layer_norm_backward(grads[0].to(at::kFloat), x.to(at::kFloat), {x.size(-1)}, s[3],
                                                       s[4], w.to(at::kFloat), b.to(at::kFloat),
                                                       {true, w.requires_grad(), b.requires_grad()});
    auto as = [](const at::Tensor& g, const at::Tensor& like) { return g.defined() ? g.to(like.scalar_type()) : g; };
    return {as(dx, x), as(dw, w), as(db, b), at::Tensor()};
  }
};

}  // namespace

extern "C" int fs_layer_norm_f32(void* x, void* w, void* b, double eps, void* out, char** err) {
  return froster_shim::guarded(err, [&] {
    auto& t = *static_cast<at::Tensor*>(x);
    *static_cast<at::Tensor*>(out) =
        LayerNormF32::apply(t, *static_cast<at::Tensor*>(w), *static_cast<at::Tensor*>(b), eps);
  });
}

extern "C" int fs_quick_gelu(void* x, void* out, char** err) {
  return froster_shim::guarded(err, [&] { *static_cast<at::Tensor*>(out) = QuickGelu::apply(*static_cast<at::Tensor*>(x)); });
}

extern "C" char* fs_kernels_status(void) {
  return froster_shim::copy_string(froster_kernels::status());
}
