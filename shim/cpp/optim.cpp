// The optimizer's multi-tensor ops: libtorch's fused AdamW and foreach gradient norm, one call per parameter list
// instead of one small kernel per parameter (what tch does not expose).
#include "shim.h"
#include "guard.h"

#include <ATen/ATen.h>

#include <vector>

namespace {

std::vector<at::Tensor> list(void* const* ptrs, size_t n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (size_t i = 0; i < n; i++) v.push_back(*static_cast<at::Tensor*>(ptrs[i]));
  return v;
}

}  // namespace

extern "C" int fs_fused_adamw(void* const* params, void* const* grads, void* const* exp_avgs,
                              void* const* exp_avg_sqs, void* const* steps, size_t n, double lr, double beta1,
                              double beta2, double weight_decay, double eps, char** err) {
  return froster_shim::guarded(err, [&] {
    auto p = list(params, n), g = list(grads, n), m = list(exp_avgs, n), v = list(exp_avg_sqs, n);
    auto s = list(steps, n);
    at::_foreach_add_(s, 1.0);  // as torch.optim.AdamW(fused=True): the step counts first, then the update
    at::_fused_adamw_(p, g, m, v, {}, s, lr, beta1, beta2, weight_decay, eps, false, false);
  });
}

extern "C" int fs_clip_grad_norm(void* const* grads, size_t n, double max_norm, void* total_out, char** err) {
  return froster_shim::guarded(err, [&] {
    auto g = list(grads, n);
    auto norms = at::_foreach_norm(g, 2, at::kFloat);
    auto total = at::stack(norms).norm();
    auto coef = at::clamp_max(at::reciprocal(total + 1e-6) * max_norm, 1.0);
    at::_foreach_mul_(g, coef);
    *static_cast<at::Tensor*>(total_out) = total;
  });
}
