// Open-VCLIP's temporal attention (each frame's queries against the keys and values of frames t+1, t-1 and t of
// its clip, zero blocks past the ends) as one autograd op that keeps, for backward, q, k and v (views of the qkv
// projection, which is kept anyway) and the attention's output and log-sum-exp, not the tripled keys and values
// eager autograd keeps: backward builds those again (copies, no attention forward) and calls the flash-attention
// backward eager autograd would call. On CUDA the tripled keys are built, and their gradient folded back, by
// cuda/temporal_kv.cu's kernels in one pass each (the eager ops take five copies each way). The op runs where the
// dispatcher picks flash attention (bf16/f16 on CUDA, the CPU's kernel); elsewhere the entry runs the eager ops
// (the same values).
#include "shim.h"
#include "guard.h"
#include "kernels.h"

#include <ATen/ATen.h>
#include <ATen/SDPBackend.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

namespace froster_kernels {

// [N, h, L, d] -> [N, h, 3L, d]: per frame, the keys of frames t+1, t-1 and t (froster-model's temporal_kv).
at::Tensor temporal_kv_aten(const at::Tensor& k, int64_t t) {
  auto n = k.size(0), h = k.size(1), l = k.size(2), d = k.size(3);
  auto k5 = k.view({n / t, t, h, l, d});
  auto zero = at::zeros_like(k5.narrow(1, 0, 1));
  auto next = at::cat({k5.narrow(1, 1, t - 1), zero}, 1);
  auto prev = at::cat({zero, k5.narrow(1, 0, t - 1)}, 1);
  return at::cat({next, prev, k5}, 3).view({n, h, 3 * l, d});
}

// temporal_kv's backward: frame f's key gradient is its own block's, plus the "next" block of frame f-1 and the
// "previous" block of frame f+1.
at::Tensor temporal_fold_aten(const at::Tensor& g3, int64_t t) {
  auto n = g3.size(0), h = g3.size(1), l = g3.size(2) / 3, d = g3.size(3);
  auto g5 = g3.reshape({n / t, t, h, 3 * l, d});
  auto g = g5.narrow(3, 2 * l, l).contiguous();
  if (t > 1) {
    g.narrow(1, 1, t - 1).add_(g5.narrow(3, 0, l).narrow(1, 0, t - 1));
    g.narrow(1, 0, t - 1).add_(g5.narrow(3, l, l).narrow(1, 1, t - 1));
  }
  return g.view({n, h, l, d});
}

}  // namespace froster_kernels

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Inside the op (no autograd): cuda/temporal_kv.cu's one-pass gather and fold where they run, else ATen's.
at::Tensor temporal_kv(const at::Tensor& k, int64_t t) {
  at::Tensor out;
  return froster_kernels::temporal_kv_gather(k, t, out) ? out : froster_kernels::temporal_kv_aten(k, t);
}

at::Tensor fold(const at::Tensor& g3, int64_t t) {
  at::Tensor out;
  return froster_kernels::temporal_kv_fold(g3, t, out) ? out : froster_kernels::temporal_fold_aten(g3, t);
}

struct TemporalAttention : public torch::autograd::Function<TemporalAttention> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t t) {
    auto k3 = temporal_kv(k, t), v3 = temporal_kv(v, t);
    ctx->saved_data["t"] = t;
    if (q.is_cuda()) {
      auto [out, lse, cum_q, cum_k, max_q, max_k, seed, offset, debug] = at::_scaled_dot_product_flash_attention(q, k3, v3);
      ctx->save_for_backward({q, k, v, out, lse, cum_q, cum_k, seed, offset});
      ctx->saved_data["max_q"] = max_q.expect_int();
      ctx->saved_data["max_k"] = max_k.expect_int();
      return out;
    }
    auto [out, lse] = at::_scaled_dot_product_flash_attention_for_cpu(q, k3, v3);
    ctx->save_for_backward({q, k, v, out, lse});
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto s = ctx->get_saved_variables();
    int64_t t = ctx->saved_data["t"].toInt();
    const auto &q = s[0], &out = s[3], &lse = s[4];
    auto k3 = temporal_kv(s[1], t), v3 = temporal_kv(s[2], t);
    at::Tensor dq, dk3, dv3;
    if (q.is_cuda()) {
      int64_t max_q = ctx->saved_data["max_q"].toInt(), max_k = ctx->saved_data["max_k"].toInt();
      std::tie(dq, dk3, dv3) = at::_scaled_dot_product_flash_attention_backward(
          grads[0], q, k3, v3, out, lse, s[5], s[6], max_q, max_k, 0.0, false, s[7], s[8]);
    } else {
      std::tie(dq, dk3, dv3) = at::_scaled_dot_product_flash_attention_for_cpu_backward(grads[0], q, k3, v3, out, lse, 0.0, false);
    }
    return {dq, fold(dk3, t), fold(dv3, t), at::Tensor()};
  }
};

}  // namespace

namespace {

// The op against the eager ops on `like`'s device and dtype (values, and the gradients of q, k and v through
// autograd, by norm): "" when they agree.
std::string check_op(const at::Tensor& like) {
  int64_t t = 4, n = 8, h = 2, l = 9, d = 64;
  auto f32 = like.options().dtype(at::kFloat);
  auto qkv = at::sin(at::arange(3 * n * h * l * d, f32) * 0.37).view({3, n, h, l, d}).to(like.scalar_type());
  auto g = at::cos(at::arange(n * h * l * d, f32) * 0.11).view({n, h, l, d}).to(like.scalar_type());
  at::AutoGradMode grad_on(true);
  auto run = [&](bool op) {
    auto q = qkv[0].detach().requires_grad_(true), k = qkv[1].detach().requires_grad_(true),
         v = qkv[2].detach().requires_grad_(true);
    auto kv = [&](const at::Tensor& x) { return froster_kernels::temporal_kv_aten(x, t); };
    auto o = op ? TemporalAttention::apply(q, k, v, t) : at::scaled_dot_product_attention(q, kv(k), kv(v));
    auto grads = torch::autograd::grad({o}, {q, k, v}, {g});
    return std::vector<at::Tensor>{o.detach(), grads[0], grads[1], grads[2]};
  };
  auto got = run(true), want = run(false);
  double tol = like.scalar_type() == at::kFloat ? 1e-5 : 2e-2;
  const char* names[] = {"output", "dq", "dk", "dv"};
  for (size_t i = 0; i < got.size(); i++) {
    auto a = got[i].to(at::kFloat), b = want[i].to(at::kFloat);
    double err = (a - b).norm().item<double>() / std::max(b.norm().item<double>(), 1e-12);
    if (!(err <= tol)) return std::string(names[i]) + " differs from the eager ops' by " + std::to_string(err);
  }
  return "";
}

// Where the op computes what the eager ops would: the dispatcher's choice is flash attention (whose padding of
// head dims that are not multiples of 8 on CUDA is left to the eager ops), and on CUDA, where no test has run
// it, the op has passed its self-check on the device.
bool keeps_less(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  auto flash = static_cast<int64_t>(at::SDPBackend::flash_attention);
  if (at::_fused_sdp_choice(q, k, v) != flash || q.size(3) % 8 != 0) return false;
  return !q.is_cuda() || froster_kernels::detail::self_checked("temporal attention", [&] { return check_op(q); });
}

}  // namespace

extern "C" char* fs_temporal_attention_check(void* like) {
  try {
    return froster_shim::copy_string(check_op(*static_cast<at::Tensor*>(like)));
  } catch (const std::exception& e) {
    return froster_shim::copy_string(e.what());
  }
}

extern "C" int fs_temporal_attention_keeps_less(void* q, void* k, void* v) {
  try {
    return keeps_less(*static_cast<at::Tensor*>(q), *static_cast<at::Tensor*>(k), *static_cast<at::Tensor*>(v));
  } catch (...) {
    return 0;
  }
}

extern "C" int fs_temporal_attention(void* q, void* k, void* v, int64_t t, void* out, char** err) {
  return froster_shim::guarded(err, [&] {
    const auto &Q = *static_cast<at::Tensor*>(q), &K = *static_cast<at::Tensor*>(k), &V = *static_cast<at::Tensor*>(v);
    TORCH_CHECK(Q.dim() == 4 && K.sizes() == Q.sizes() && V.sizes() == Q.sizes(),
                "temporal attention takes q, k, v of one shape [N, heads, L, d], not ", Q.sizes(), ", ", K.sizes(),
                ", ", V.sizes());
    TORCH_CHECK(t >= 1 && Q.size(0) % t == 0, "temporal attention over clips of ", t, " frames: ", Q.size(0),
                " frames is not a whole number of clips");
    // (The eager fallback goes through autograd: ATen's ops, not the kernels.)
    auto kv = [&](const at::Tensor& x) { return froster_kernels::temporal_kv_aten(x, t); };
    *static_cast<at::Tensor*>(out) =
        keeps_less(Q, K, V) ? TemporalAttention::apply(Q, K, V, t) : at::scaled_dot_product_attention(Q, kv(K), kv(V));
  });
}
