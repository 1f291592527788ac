// Each family of replacements for ATen ops (the CUDA kernels, the temporal attention op) checks itself on the
// device once per process before first use: one that does not compute what ATen computes (a toolkit or driver
// surprise on a GPU this code was never run on) stands aside, and kernels_status() says why.
#include "kernels.h"

#include <mutex>
#include <unordered_map>

namespace froster_kernels::detail {
namespace {
std::recursive_mutex mu;  // a check may use another family (which checks itself first)
std::unordered_map<std::string, bool> verdicts;
std::string failed;  // "family self-check: why; ..."
}  // namespace

bool self_checked(const char* family, const std::function<std::string()>& check) {
  // Held while checking: a family is checked once, by the first caller; the others wait for its verdict.
  std::lock_guard<std::recursive_mutex> lock(mu);
  if (auto it = verdicts.find(family); it != verdicts.end()) return it->second;
  std::string why;
  try {
    why = check();
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!why.empty()) failed += (failed.empty() ? "" : "; ") + std::string(family) + " self-check: " + why;
  return verdicts[family] = why.empty();
}

std::string failures() {
  std::lock_guard<std::recursive_mutex> lock(mu);
  return failed;
}

}  // namespace froster_kernels::detail
