// Launches cuda/temporal_kv.cu's gather (the tripled keys and values of Open-VCLIP's temporal attention) and its
// fold (their gradient back onto the keys), checked against the ATen ops on the device once before first use.
#include "kernels.h"

#ifdef FROSTER_SHIM_KERNELS
#include <climits>

namespace froster_kernels {
namespace {

using detail::Dims;

constexpr unsigned kRowsPerBlock = 8;  // one warp per row of d elements

bool fits(const at::Tensor& x, int64_t t) {
  return x.is_cuda() && x.dim() == 4 && detail::suffix(x.scalar_type()) && x.stride(3) == 1 && t >= 1 &&
         x.size(0) % t == 0 && x.size(3) > 0 && x.size(3) <= INT_MAX;
}

Dims grid_of(long long rows) { return Dims{static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock), 1}; }

bool gather(const at::Tensor& k, int64_t t, at::Tensor& out) {
  if (!fits(k, t)) return false;
  long long n = k.size(0), h = k.size(1), l = k.size(2), sn = k.stride(0), sh = k.stride(1), sl = k.stride(2), tt = t;
  int d = static_cast<int>(k.size(3));
  out = at::empty({n, h, 3 * l, d}, k.options());
  if (out.numel() == 0) return true;
  const void* src = k.data_ptr();
  void* dst = out.data_ptr();
  void* args[] = {&src, &sn, &sh, &sl, &dst, &n, &h, &l, &d, &tt};
  auto name = std::string("temporal_kv_gather_") + detail::suffix(k.scalar_type());
  return detail::launch(name, k, args, grid_of(n * h * 3 * l), Dims{32 * kRowsPerBlock, 1});
}

bool fold(const at::Tensor& g3, int64_t t, at::Tensor& out) {
  if (!fits(g3, t) || g3.size(2) % 3 != 0) return false;
  long long n = g3.size(0), h = g3.size(1), l = g3.size(2) / 3, tt = t;
  long long gn = g3.stride(0), gh = g3.stride(1), gl = g3.stride(2);
  int d = static_cast<int>(g3.size(3));
  out = at::empty({n, h, l, d}, g3.options());
  if (out.numel() == 0) return true;
  const void* src = g3.data_ptr();
  void* dst = out.data_ptr();
  void* args[] = {&src, &gn, &gh, &gl, &dst, &n, &h, &l, &d, &tt};
  auto name = std::string("temporal_kv_fold_") + detail::suffix(g3.scalar_type());
  return detail::launch(name, g3, args, grid_of(n * h * l), Dims{32 * kRowsPerBlock, 1});
}

// Against the ATen ops for each dtype, with keys strided as the qkv projection leaves them and a gradient laid out
// as flash attention's (the sequence before the heads): "" when they agree (a copy and an f32 sum of three).
std::string check(const at::Tensor& like) {
  auto opts = like.options().dtype(at::kFloat);
  int64_t n = 12, h = 3, l = 5, d = 40, t = 4;
  auto qkv = at::sin(at::arange(n * l * 3 * h * d, opts) * 0.37).view({n, l, 3, h, d});
  auto g3 = at::cos(at::arange(n * 3 * l * h * d, opts) * 0.11).view({n, 3 * l, h, d}).transpose(1, 2);
  for (auto [s, tol] : {std::pair{at::kFloat, 1e-6}, {at::kBFloat16, 1e-2}, {at::kHalf, 2e-3}}) {
    auto k = qkv.to(s).permute({2, 0, 3, 1, 4}).select(0, 1), g = g3.to(s);
    at::Tensor k3, dk;
    if (!gather(k, t, k3) || !fold(g, t, dk)) return "the kernels did not run";
    if (!k3.equal(temporal_kv_aten(k, t))) return std::string("the gather differs for ") + detail::suffix(s);
    auto want = temporal_fold_aten(g.to(at::kFloat), t);
    double err = (dk.to(at::kFloat) - want).abs().max().item<double>() / want.abs().max().item<double>();
    if (!(err <= tol))
      return std::string("the fold differs for ") + detail::suffix(s) + " (relative " + std::to_string(err) + ")";
  }
  return "";
}

}  // namespace

bool temporal_kv_gather(const at::Tensor& k, int64_t t, at::Tensor& out) {
  return fits(k, t) && detail::self_checked("temporal K/V", [&] { return check(k); }) && gather(k, t, out);
}

bool temporal_kv_fold(const at::Tensor& g3, int64_t t, at::Tensor& out) {
  return fits(g3, t) && detail::self_checked("temporal K/V", [&] { return check(g3); }) && fold(g3, t, out);
}

}  // namespace froster_kernels

#else

namespace froster_kernels {
bool temporal_kv_gather(const at::Tensor&, int64_t, at::Tensor&) { return false; }
bool temporal_kv_fold(const at::Tensor&, int64_t, at::Tensor&) { return false; }
}  // namespace froster_kernels

#endif
