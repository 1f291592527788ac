// Autograd ops that keep less for backward than the eager ops they replace (the same values):
// - QuickGELU keeps only its input (eager keeps it and the sigmoid). On CUDA it runs cuda/quick_gelu.cu's kernels,
//   loaded from the fatbin build.rs embeds through the driver API (dlopen'd libcuda, which torch has loaded
//   already); elsewhere, or when the kernels cannot load, the same formulas in ATen.
// - LayerNorm computed in f32 keeps its input in its own dtype (bf16: half the bytes), where eager keeps the f32
//   copy it normalised. On CUDA it runs cuda/layer_norm.cu's kernels (one forward, no f32 copies); elsewhere
//   ATen's layer_norm around casts. Its variant with the residual add before it writes the sum and its LayerNorm
//   in one kernel.
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

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_aten(const at::Tensor& x, const at::Tensor& w,
                                                               const at::Tensor& b, double eps) {
  auto [y, mean, rstd] =
      at::native_layer_norm(x.to(at::kFloat), {x.size(-1)}, w.to(at::kFloat), b.to(at::kFloat), eps);
  return {y.to(x.scalar_type()), mean, rstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_backward_aten(const at::Tensor& g, const at::Tensor& x,
                                                                        const at::Tensor& w, const at::Tensor& b,
                                                                        const at::Tensor& mean,
                                                                        const at::Tensor& rstd,
                                                                        std::array<bool, 3> mask) {
  auto [dx, dw, db] = at::native_layer_norm_backward(g.to(at::kFloat), x.to(at::kFloat), {x.size(-1)}, mean, rstd,
                                                     w.to(at::kFloat), b.to(at::kFloat), mask);
  return {dx.defined() ? dx.to(x.scalar_type()) : dx, dw, db};
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

// LayerNorm's gradients from what its forward saved (input, w, b, mean, rstd, and whether the kernels ran), plus
// `gsum` (when defined) added to dx: {dx, dw, db}, dw and db undefined where not wanted.
torch::autograd::variable_list layer_norm_grads(torch::autograd::AutogradContext* ctx, const at::Tensor& dy,
                                                const at::Tensor& gsum) {
  auto s = ctx->get_saved_variables();
  const auto &x = s[0], &w = s[1], &b = s[2], &mean = s[3], &rstd = s[4];
  bool wb = w.requires_grad() || b.requires_grad();
  at::Tensor dx, dw, db;
  auto g = dy.to(x.scalar_type()).contiguous();
  auto gs = gsum.defined() ? gsum.to(x.scalar_type()).contiguous() : gsum;
  if (!(ctx->saved_data["kernel"].toBool() &&
        froster_kernels::layer_norm_backward(g, x, w, mean, rstd, gs, wb, dx, dw, db))) {
    std::tie(dx, dw, db) = froster_kernels::layer_norm_backward_aten(dy, x, w, b, mean, rstd,
                                                                     {true, w.requires_grad(), b.requires_grad()});
    if (gs.defined()) dx = dx + gs;
  }
  auto as = [](const at::Tensor& t, const at::Tensor& like, bool want) {
    return want && t.defined() ? t.to(like.scalar_type()) : at::Tensor();
  };
  return {dx, as(dw, w, w.requires_grad()), as(db, b, b.requires_grad())};
}

// CLIP's LayerNorm: normalised in f32 over the last dimension, returned in the input's dtype. On CUDA one kernel
// forward and two backward (cuda/layer_norm.cu) where they run, else ATen's layer_norm around casts.
struct LayerNormF32 : public torch::autograd::Function<LayerNormF32> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w,
                            const at::Tensor& b, double eps) {
    auto xc = x.contiguous();
    at::Tensor y, mean, rstd;
    bool kernel = froster_kernels::layer_norm_forward(xc, w, b, eps, y, mean, rstd);
    if (!kernel) std::tie(y, mean, rstd) = froster_kernels::layer_norm_aten(xc, w, b, eps);
    ctx->saved_data["kernel"] = kernel;
    ctx->save_for_backward({xc, w, b, mean, rstd});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto g = layer_norm_grads(ctx, grads[0], at::Tensor());
    return {g[0], g[1], g[2], at::Tensor()};
  }
};

// A residual add and CLIP's LayerNorm of the sum: (x + r, layer_norm(x + r)) for x and r of one shape. On CUDA one
// kernel writes both (the sum is read once, not written then read again) and backward adds the sum's own gradient
// inside the dx kernel; elsewhere ATen's add and layer_norm.
struct AddLayerNormF32 : public torch::autograd::Function<AddLayerNormF32> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                                                const at::Tensor& r, const at::Tensor& w, const at::Tensor& b,
                                                double eps) {
    auto xc = x.contiguous(), rc = r.contiguous();
    at::Tensor sum, y, mean, rstd;
    bool kernel = froster_kernels::add_layer_norm_forward(xc, rc, w, b, eps, sum, y, mean, rstd);
    if (!kernel) {
      sum = xc + rc;
      std::tie(y, mean, rstd) = froster_kernels::layer_norm_aten(sum, w, b, eps);
    }
    ctx->saved_data["kernel"] = kernel;
    ctx->saved_data["x_type"] = static_cast<int64_t>(x.scalar_type());
    ctx->saved_data["r_type"] = static_cast<int64_t>(r.scalar_type());
    ctx->save_for_backward({sum, w, b, mean, rstd});
    return {sum, y};
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto g = layer_norm_grads(ctx, grads[1], grads[0]);
    auto type = [&](const char* k) { return static_cast<at::ScalarType>(ctx->saved_data[k].toInt()); };
    return {g[0].to(type("x_type")), g[0].to(type("r_type")), g[1], g[2], at::Tensor()};
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

extern "C" int fs_add_layer_norm_f32(void* x, void* r, void* w, void* b, double eps, void* sum, void* y,
                                     char** err) {
  return froster_shim::guarded(err, [&] {
    auto &xt = *static_cast<at::Tensor*>(x), &rt = *static_cast<at::Tensor*>(r);
    auto &wt = *static_cast<at::Tensor*>(w), &bt = *static_cast<at::Tensor*>(b);
    auto &s = *static_cast<at::Tensor*>(sum), &out = *static_cast<at::Tensor*>(y);
    if (xt.sizes() != rt.sizes()) {  // a broadcast add: its gradient needs a reduction, left to autograd
      s = xt + rt;
      out = LayerNormF32::apply(s, wt, bt, eps);
      return;
    }
    auto both = AddLayerNormF32::apply(xt, rt, wt, bt, eps);
    s = both[0];
    out = both[1];
  });
}

extern "C" int fs_quick_gelu(void* x, void* out, char** err) {
  return froster_shim::guarded(err, [&] { *static_cast<at::Tensor*>(out) = QuickGelu::apply(*static_cast<at::Tensor*>(x)); });
}

extern "C" char* fs_kernels_status(void) {
  return froster_shim::copy_string(froster_kernels::status());
}
