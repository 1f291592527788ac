// Launches cuda/'s kernels through the CUDA driver API: build.rs compiles them with the torch wheel's nvcc into a
// fatbin (kernels_fatbin.h) when it finds nvcc and the CUDA headers; libcuda is the one torch has loaded.
#include "kernels.h"

#ifdef FROSTER_SHIM_KERNELS
#include <c10/core/DeviceGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda.h>
#include <dlfcn.h>

#include <algorithm>
#include <functional>
#include <utility>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "kernels_fatbin.h"

namespace froster_kernels {
namespace {

struct Driver {
  CUresult (*ctx_get_current)(CUcontext*);
  CUresult (*module_load_data)(CUmodule*, const void*);
  CUresult (*module_get_function)(CUfunction*, CUmodule, const char*);
  CUresult (*launch_kernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                            CUstream, void**, void**);
  CUresult (*get_error_string)(CUresult, const char**);
};

std::mutex mu;
std::string failure;  // why the kernels cannot run here (empty: they can, or were not tried yet)
std::unordered_map<CUcontext, CUmodule> modules;
std::unordered_map<std::string, CUfunction> functions;  // keyed by context and name

const Driver* driver() {
  static Driver d;
  static const Driver* loaded = [] () -> const Driver* {
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return nullptr;
    d.ctx_get_current = reinterpret_cast<decltype(d.ctx_get_current)>(dlsym(lib, "cuCtxGetCurrent"));
    d.module_load_data = reinterpret_cast<decltype(d.module_load_data)>(dlsym(lib, "cuModuleLoadData"));
    d.module_get_function = reinterpret_cast<decltype(d.module_get_function)>(dlsym(lib, "cuModuleGetFunction"));
    d.launch_kernel = reinterpret_cast<decltype(d.launch_kernel)>(dlsym(lib, "cuLaunchKernel"));
    d.get_error_string = reinterpret_cast<decltype(d.get_error_string)>(dlsym(lib, "cuGetErrorString"));
    bool all = d.ctx_get_current && d.module_load_data && d.module_get_function && d.launch_kernel && d.get_error_string;
    return all ? &d : nullptr;
  }();
  return loaded;
}

std::string words(const Driver* d, CUresult r) {
  const char* s = nullptr;
  d->get_error_string(r, &s);
  return s ? s : "CUDA error " + std::to_string(static_cast<int>(r));
}

// The kernel `name` in the current context, loading the module on first use; nullptr (and `failure` set) when
// it cannot be had. Called with `mu` held.
CUfunction function(const char* name) {
  static bool given_up = false;  // a module that did not load will not load on the next call either
  if (given_up) return nullptr;
  const Driver* d = driver();
  if (!d) {
    failure = "libcuda.so.1 or its entry points not found";
    return nullptr;
  }
  CUcontext ctx = nullptr;
  if (d->ctx_get_current(&ctx) != CUDA_SUCCESS || !ctx) {
    failure = "no current CUDA context";
    return nullptr;
  }
  std::string key = std::to_string(reinterpret_cast<uintptr_t>(ctx)) + "/" + name;
  if (auto it = functions.find(key); it != functions.end()) return it->second;
  auto m = modules.find(ctx);
  if (m == modules.end()) {
    CUmodule module = nullptr;
    CUresult r = d->module_load_data(&module, kKernelsFatbin);
    if (r != CUDA_SUCCESS) {
      failure = "loading the kernels (" FROSTER_KERNEL_TARGETS "): " + words(d, r);
      given_up = true;
      return nullptr;
    }
    m = modules.emplace(ctx, module).first;
  }
  CUfunction f = nullptr;
  CUresult r = d->module_get_function(&f, m->second, name);
  if (r != CUDA_SUCCESS) {
    failure = std::string("kernel ") + name + ": " + words(d, r);
    return nullptr;
  }
  functions.emplace(key, f);
  return f;
}

}  // namespace

namespace detail {

const char* suffix(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "f32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "f16";
    default: return nullptr;
  }
}

bool launch(const std::string& name, const at::Tensor& ref, void** args, Dims grid, Dims block) {
  c10::DeviceGuard guard(ref.device());  // (CUDAGuard would inline calls into the CUDA runtime, not linked)
  CUfunction f;
  {
    std::lock_guard<std::mutex> lock(mu);
    f = function(name.c_str());
  }
  if (!f) return false;
  auto stream = reinterpret_cast<CUstream>(c10::cuda::getCurrentCUDAStream(ref.device().index()).stream());
  CUresult r = driver()->launch_kernel(f, grid.x, grid.y, 1, block.x, block.y, 1, 0, stream, args, nullptr);
  if (r != CUDA_SUCCESS) throw std::runtime_error("launching " + name + ": " + words(driver(), r));
  return true;
}

}  // namespace detail

namespace {

using detail::suffix;

// Runs kernel `name` over n elements (a grid-stride loop) on `ref`'s device and current stream.
bool launch(const std::string& name, const at::Tensor& ref, void** args, long long n) {
  unsigned threads = 256;
  auto blocks = static_cast<unsigned>(std::min<long long>((n + threads - 1) / threads, 8192));
  return detail::launch(name, ref, args, {blocks, 1}, {threads, 1});
}

bool launch_forward(const at::Tensor& x, at::Tensor& y) {
  const char* s = suffix(x.scalar_type());
  if (!x.is_cuda() || !s || !x.is_contiguous()) return false;
  y = at::empty_like(x);
  long long n = x.numel();
  if (n == 0) return true;
  const void* xp = x.data_ptr();
  void* yp = y.data_ptr();
  void* args[] = {&xp, &yp, &n};
  return launch(std::string("quick_gelu_fwd_") + s, x, args, n);
}

bool launch_backward(const at::Tensor& g, const at::Tensor& x, at::Tensor& dx) {
  const char* s = suffix(x.scalar_type());
  if (!x.is_cuda() || !s || g.scalar_type() != x.scalar_type() || !g.is_contiguous() || g.sizes() != x.sizes())
    return false;
  dx = at::empty_like(x);
  long long n = x.numel();
  if (n == 0) return true;
  const void *gp = g.data_ptr(), *xp = x.data_ptr();
  void* dp = dx.data_ptr();
  void* args[] = {&gp, &xp, &dp, &n};
  return launch(std::string("quick_gelu_bwd_") + s, x, args, n);
}

// The kernels against the ATen formulas on the device (f32, bf16, f16, forward and backward): "" when they agree.
std::string check_quick_gelu(const at::Tensor& like) {
  auto x = at::linspace(-8.0, 8.0, 4099, like.options().dtype(at::kFloat));
  auto g = at::cos(x * 3.0);
  for (auto [t, tol] : {std::pair{at::kFloat, 1e-5}, {at::kBFloat16, 2e-2}, {at::kHalf, 2e-3}}) {
    at::Tensor y, dx;
    if (!launch_forward(x.to(t), y) || !launch_backward(g.to(t), x.to(t), dx)) return "the kernels did not run";
    // Against the ATen formulas in the same dtype, relative to the outputs' scale (about 9).
    auto err = [](const at::Tensor& a, const at::Tensor& b) {
      return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>() / 9.0;
    };
    double ey = err(y, quick_gelu_aten(x.to(t)));
    double ed = err(dx, quick_gelu_backward_aten(g.to(t), x.to(t)));
    if (!(ey <= tol && ed <= tol))
      return std::string("failed for ") + suffix(t) + " (errors " + std::to_string(ey) + ", " + std::to_string(ed) + ")";
  }
  return "";
}

}  // namespace

// Each kernel family checks itself against the ATen formulas on the device once per process before first use: a
// kernel that does not compute what they compute (a toolkit or driver surprise on a GPU this code was never run
// on) is not used, and status() says why.
bool quick_gelu_forward(const at::Tensor& x, at::Tensor& y) {
  return x.is_cuda() && detail::self_checked("QuickGELU", [&] { return check_quick_gelu(x); }) && launch_forward(x, y);
}

bool quick_gelu_backward(const at::Tensor& g, const at::Tensor& x, at::Tensor& dx) {
  return x.is_cuda() && detail::self_checked("QuickGELU", [&] { return check_quick_gelu(x); }) &&
         launch_backward(g, x, dx);
}

std::string status() {
  std::string s = "CUDA kernels compiled for " FROSTER_KERNEL_TARGETS;
  std::string why = detail::failures();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!failure.empty()) why = failure + (why.empty() ? "" : "; " + why);
  }
  return why.empty() ? s : s + "; not running: " + why;
}

}  // namespace froster_kernels

#else

namespace froster_kernels {
bool quick_gelu_forward(const at::Tensor&, at::Tensor&) { return false; }
bool quick_gelu_backward(const at::Tensor&, const at::Tensor&, at::Tensor&) { return false; }
std::string status() {
  std::string why = detail::failures();
  return "CUDA kernels not compiled (no nvcc or CUDA headers when froster-shim was built)" +
         (why.empty() ? "" : "; " + why);
}
}  // namespace froster_kernels

#endif
