// CUDA graphs of a training step: libtorch's at::cuda::CUDAGraph, captured and replayed on a side stream of its
// own (the legacy default stream cannot be captured). The caller orders that stream with the rest by waiting for
// the device around `enter`/`exit` (a step reads its loss back anyway), so no CUDA runtime call is made here.
#include "shim.h"
#include "guard.h"

#ifdef FROSTER_SHIM_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>

#include <optional>

struct fs_graph {
  c10::DeviceIndex device;
  c10::cuda::CUDAStream stream;
  std::optional<c10::cuda::CUDAStream> previous;  // the stream `enter` replaced, set back by `exit`
  at::cuda::CUDAGraph graph;
  bool capturing = false;
  bool captured = false;
};

extern "C" fs_graph* fs_graph_new(int device, char** err) {
  fs_graph* g = nullptr;
  froster_shim::guarded(err, [&] {
    TORCH_CHECK(device >= 0 && device < c10::cuda::device_count(), "no CUDA device ", device);
    auto idx = static_cast<c10::DeviceIndex>(device);
    g = new fs_graph{idx, c10::cuda::getStreamFromPool(false, idx)};
  });
  return g;
}

extern "C" int fs_graph_enter(fs_graph* g, char** err) {
  return froster_shim::guarded(err, [&] {
    TORCH_CHECK(!g->previous, "the graph's stream is already current");
    g->previous = c10::cuda::getCurrentCUDAStream(g->device);
    c10::cuda::setCurrentCUDAStream(g->stream);
  });
}

extern "C" int fs_graph_exit(fs_graph* g, char** err) {
  return froster_shim::guarded(err, [&] {
    if (!g->previous) return;
    c10::cuda::setCurrentCUDAStream(*g->previous);
    g->previous.reset();
  });
}

extern "C" int fs_graph_capture_begin(fs_graph* g, char** err) {
  return froster_shim::guarded(err, [&] {
    TORCH_CHECK(g->previous, "capture outside the graph's stream");
    TORCH_CHECK(!g->captured && !g->capturing, "this graph was captured already");
    // What eager warm-up steps left cached goes back first: the graph's private pool takes as much again.
    c10::cuda::CUDACachingAllocator::emptyCache();
    // Thread-local: only this thread's calls are checked while recording. Global mode would let any other
    // thread's unsafe call (NCCL's watchdog polling its events, say) invalidate the capture; the work recorded
    // here is checked against an eager run anyway.
    g->graph.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
    g->capturing = true;
  });
}

extern "C" int fs_graph_capture_end(fs_graph* g, char** err) {
  return froster_shim::guarded(err, [&] {
    TORCH_CHECK(g->capturing, "no capture under way");
    g->capturing = false;
    g->graph.capture_end();  // throws when the capture was invalidated (an op that syncs, allocates, ...)
    g->captured = true;
  });
}

extern "C" int fs_graph_replay(fs_graph* g, char** err) {
  return froster_shim::guarded(err, [&] {
    TORCH_CHECK(g->captured, "the graph was not captured");
    g->graph.replay();  // on the current stream
  });
}

extern "C" void fs_graph_free(fs_graph* g) {
  if (!g) return;
  try {
    if (g->previous) c10::cuda::setCurrentCUDAStream(*g->previous);
    delete g;
  } catch (...) {
  }
}

#else

struct fs_graph {};

namespace {
int no_cuda(char** err) { return froster_shim::no_cuda(err, "CUDA graphs"); }
}  // namespace

extern "C" fs_graph* fs_graph_new(int, char** err) {
  no_cuda(err);
  return nullptr;
}
extern "C" int fs_graph_enter(fs_graph*, char** err) { return no_cuda(err); }
extern "C" int fs_graph_exit(fs_graph*, char** err) { return no_cuda(err); }
extern "C" int fs_graph_capture_begin(fs_graph*, char** err) { return no_cuda(err); }
extern "C" int fs_graph_capture_end(fs_graph*, char** err) { return no_cuda(err); }
extern "C" int fs_graph_replay(fs_graph*, char** err) { return no_cuda(err); }
extern "C" void fs_graph_free(fs_graph*) {}

#endif
