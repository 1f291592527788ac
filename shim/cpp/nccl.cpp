// ProcessGroupNCCL, compiled only where the torch wheel's CUDA and NCCL headers are found (build.rs).
#include "shim.h"

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <stdexcept>

#ifdef FROSTER_SHIM_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

c10::intrusive_ptr<c10d::Backend> fs_make_nccl(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                                               std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, opts);
}

extern "C" int fs_has_nccl(void) { return 1; }
#else
c10::intrusive_ptr<c10d::Backend> fs_make_nccl(const c10::intrusive_ptr<c10d::Store>&, int, int,
                                               std::chrono::milliseconds) {
  throw std::runtime_error("this build has no NCCL (the torch wheel's nvidia headers were not found at build time)");
}

extern "C" int fs_has_nccl(void) { return 0; }
#endif
