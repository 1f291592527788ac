// Launches cuda/layer_norm.cu's kernels (CLIP's f32 LayerNorm in one kernel forward, two backward; with or
// without the residual add before it) and checks them against ATen's layer_norm on the device once before first use.
#include "kernels.h"

#ifdef FROSTER_SHIM_KERNELS
#include <climits>

namespace froster_kernels {
namespace {

using detail::Dims;

constexpr unsigned kRowsPerBlock = 8;  // one warp per row

bool fits(const at::Tensor& x, const at::Tensor& w) {
  auto f32 = [](const at::Tensor& t) { return t.scalar_type() == at::kFloat && t.is_contiguous(); };
  return x.is_cuda() && x.dim() >= 1 && x.is_contiguous() && detail::suffix(x.scalar_type()) && f32(w) &&
         w.dim() == 1 && w.size(0) == x.size(-1) && x.size(-1) > 0 && x.size(-1) <= INT_MAX;
}

// mean/rstd's shape: x's leading dimensions and 1 (as native_layer_norm).
std::vector<int64_t> stat_shape(const at::Tensor& x) {
  auto s = x.sizes().vec();
  s.back() = 1;
  return s;
}

unsigned row_blocks(long long rows) { return static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock); }

// LayerNorm of x, or with `r` defined of the sum x + r (same dtype and shape), written to `sum`.
bool forward(const at::Tensor& x, const at::Tensor& r, const at::Tensor& w, const at::Tensor& b, double eps,
             at::Tensor& sum, at::Tensor& y, at::Tensor& mean, at::Tensor& rstd) {
  if (!fits(x, w) || !fits(x, b)) return false;
  bool add = r.defined();
  if (add && !(r.is_contiguous() && r.scalar_type() == x.scalar_type() && r.sizes() == x.sizes() &&
               r.device() == x.device()))
    return false;
  long long rows = x.numel() / x.size(-1);
  int cols = static_cast<int>(x.size(-1));
  y = at::empty_like(x);
  mean = at::empty(stat_shape(x), x.options().dtype(at::kFloat));
  rstd = at::empty(stat_shape(x), x.options().dtype(at::kFloat));
  if (add) sum = at::empty_like(x);
  if (rows == 0) return true;
  const void *xp = x.data_ptr(), *wp = w.data_ptr(), *bp = b.data_ptr();
  void *yp = y.data_ptr(), *mp = mean.data_ptr(), *rp = rstd.data_ptr();
  float e = static_cast<float>(eps);
  Dims grid{row_blocks(rows), 1}, block{32 * kRowsPerBlock, 1};
  const char* s = detail::suffix(x.scalar_type());
  if (!add) {
    void* args[] = {&xp, &wp, &bp, &yp, &mp, &rp, &rows, &cols, &e};
    return detail::launch(std::string("layer_norm_fwd_") + s, x, args, grid, block);
  }
  const void* resp = r.data_ptr();
  void* sp = sum.data_ptr();
  void* args[] = {&xp, &resp, &sp, &wp, &bp, &yp, &mp, &rp, &rows, &cols, &e};
  return detail::launch(std::string("add_layer_norm_fwd_") + s, x, args, grid, block);
}

// dx (plus `gsum` when defined: the gradient the add's sum gets from elsewhere), and dw, db when `wb`.
bool backward(const at::Tensor& g, const at::Tensor& x, const at::Tensor& w, const at::Tensor& mean,
              const at::Tensor& rstd, const at::Tensor& gsum, bool wb, at::Tensor& dx, at::Tensor& dw,
              at::Tensor& db) {
  auto like_x = [&](const at::Tensor& t) {
    return t.is_contiguous() && t.scalar_type() == x.scalar_type() && t.sizes() == x.sizes();
  };
  if (!fits(x, w) || !like_x(g) || (gsum.defined() && !like_x(gsum)) || !mean.is_contiguous() ||
      !rstd.is_contiguous())
    return false;
  long long rows = x.numel() / x.size(-1);
  int cols = static_cast<int>(x.size(-1));
  dx = at::empty_like(x);
  const void *gp = g.data_ptr(), *xp = x.data_ptr(), *wp = w.data_ptr(), *mp = mean.data_ptr(), *rp = rstd.data_ptr();
  const void* gsp = gsum.defined() ? gsum.data_ptr() : nullptr;
  void* dp = dx.data_ptr();
  const char* s = detail::suffix(x.scalar_type());
  if (rows > 0) {
    void* args[] = {&gp, &xp, &wp, &mp, &rp, &gsp, &dp, &rows, &cols};
    if (!detail::launch(std::string("layer_norm_bwd_dx_") + s, x, args, Dims{row_blocks(rows), 1},
                        Dims{32 * kRowsPerBlock, 1}))
      return false;
  }
  if (!wb) return true;
  // Partial sums over chunks of about 64 rows (at most 1024 chunks), then ATen adds the chunks.
  long long chunks = std::max<long long>(1, std::min<long long>((rows + 63) / 64, 1024));
  long long chunk = std::max<long long>(1, (rows + chunks - 1) / chunks);
  auto part_w = at::zeros({chunks, cols}, x.options().dtype(at::kFloat));
  auto part_b = at::zeros({chunks, cols}, x.options().dtype(at::kFloat));
  void *pw = part_w.data_ptr(), *pb = part_b.data_ptr();
  if (rows > 0) {
    void* args[] = {&gp, &xp, &mp, &rp, &pw, &pb, &rows, &cols, &chunk};
    Dims grid{static_cast<unsigned>((cols + 31) / 32), static_cast<unsigned>(chunks)};
    if (!detail::launch(std::string("layer_norm_bwd_wb_") + s, x, args, grid, Dims{32, 8})) return false;
  }
  dw = part_w.sum(0);
  db = part_b.sum(0);
  return true;
}

// Against ATen's f32 layer_norm (values, dx, dw, db) for each dtype, on rows of a width that is not a multiple of
// 32 and one that is, plain and after a residual add (the sum, and dx with the sum's own gradient added): "" when
// they agree.
std::string check(const at::Tensor& like) {
  auto opts = like.options().dtype(at::kFloat);
  auto err = [](const at::Tensor& a, const at::Tensor& r) {
    auto af = a.to(at::kFloat), rf = r.to(at::kFloat);
    return (af - rf).abs().max().item<double>() / std::max(rf.abs().max().item<double>(), 1e-6);
  };
  for (int64_t cols : {100, 768}) {
    auto gen = [&](int64_t n, double k) { return at::sin(at::arange(n, opts) * k).mul(2.0); };
    auto x = (gen(37 * cols, 0.37) + 0.5).view({37, cols});
    auto w = gen(cols, 1.3) + 1.0, b = gen(cols, 0.7);
    auto g = gen(37 * cols, 0.11).view({37, cols}), res = gen(37 * cols, 0.23).view({37, cols});
    for (auto [t, tol] : {std::pair{at::kFloat, 1e-4}, {at::kBFloat16, 2e-2}, {at::kHalf, 4e-3}}) {
      for (bool add : {false, true}) {
        auto xt = x.to(t), gt = g.to(t), rt = add ? res.to(t) : at::Tensor(), gs = add ? rt * 0.5 : at::Tensor();
        at::Tensor sum, y, mean, rstd, dx, dw, db;
        if (!forward(xt, rt, w, b, 1e-5, sum, y, mean, rstd) ||
            !backward(gt, add ? sum : xt, w, mean, rstd, gs, true, dx, dw, db))
          return "the kernels did not run";
        auto input = add ? xt + rt : xt;
        auto [ry, rmean, rrstd] = layer_norm_aten(input, w, b, 1e-5);
        auto [rdx, rdw, rdb] = layer_norm_backward_aten(gt, input, w, b, rmean, rrstd, {true, true, true});
        if (add) rdx = rdx.to(at::kFloat) + gs.to(at::kFloat);
        double worst = std::max({err(y, ry), err(dx, rdx), err(dw, rdw), err(db, rdb)});
        if (add) worst = std::max(worst, err(sum, input));
        if (!(worst <= tol))
          return std::string("failed for ") + detail::suffix(t) + (add ? " after an add" : "") + " at width " +
                 std::to_string(cols) + " (relative error " + std::to_string(worst) + ")";
      }
    }
  }
  return "";
}

}  // namespace

bool layer_norm_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps, at::Tensor& y,
                        at::Tensor& mean, at::Tensor& rstd) {
  at::Tensor unused;
  return fits(x, w) && detail::self_checked("LayerNorm", [&] { return check(x); }) &&
         forward(x, at::Tensor(), w, b, eps, unused, y, mean, rstd);
}

bool add_layer_norm_forward(const at::Tensor& x, const at::Tensor& r, const at::Tensor& w, const at::Tensor& b,
                            double eps, at::Tensor& sum, at::Tensor& y, at::Tensor& mean, at::Tensor& rstd) {
  return fits(x, w) && detail::self_checked("LayerNorm", [&] { return check(x); }) &&
         forward(x, r, w, b, eps, sum, y, mean, rstd);
}

bool layer_norm_backward(const at::Tensor& g, const at::Tensor& x, const at::Tensor& w, const at::Tensor& mean,
                         const at::Tensor& rstd, const at::Tensor& gsum, bool wb, at::Tensor& dx, at::Tensor& dw,
                         at::Tensor& db) {
  return fits(x, w) && detail::self_checked("LayerNorm", [&] { return check(x); }) &&
         backward(g, x, w, mean, rstd, gsum, wb, dx, dw, db);
}

}  // namespace froster_kernels

#else

namespace froster_kernels {
bool layer_norm_forward(const at::Tensor&, const at::Tensor&, const at::Tensor&, double, at::Tensor&, at::Tensor&,
                        at::Tensor&) {
  return false;
}
bool add_layer_norm_forward(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, double,
                            at::Tensor&, at::Tensor&, at::Tensor&, at::Tensor&) {
  return false;
}
bool layer_norm_backward(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                         const at::Tensor&, const at::Tensor&, bool, at::Tensor&, at::Tensor&, at::Tensor&) {
  return false;
}
}  // namespace froster_kernels

#endif
