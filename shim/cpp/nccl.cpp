// ProcessGroupNCCL, compiled only where the torch wheel's CUDA and NCCL headers are found (build.rs).
#include "shim.h"

#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <stdexcept>

#ifdef FROSTER_SHIM_NCCL
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

extern "C" int64_t fs_cuda_peak_allocated(int device, int reset) {
  try {
    if (device < 0 || device >= c10::cuda::device_count()) return -1;
    auto idx = static_cast<c10::DeviceIndex>(device);
    if (reset) {
      c10::cuda::CUDACachingAllocator::resetPeakStats(idx);
      return 0;
    }
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(idx);
    return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
  } catch (...) {
    return -1;
  }
}

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

extern "C" int64_t fs_cuda_peak_allocated(int, int) { return -1; }
#endif
