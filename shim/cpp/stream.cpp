// A side stream of the caller's own: what moves the next batch to the device while the step runs on another
// stream (froster-train's feed). Pool streams are non-blocking: they do not wait for the legacy default stream's
// work, and it does not wait for theirs.
#include "shim.h"
#include "guard.h"

#ifdef FROSTER_SHIM_CUDA
#include <ATen/ATen.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>

struct fs_stream {
  c10::cuda::CUDAStream stream;
};

extern "C" fs_stream* fs_stream_new(int device, char** err) {
  fs_stream* s = nullptr;
  froster_shim::guarded(err, [&] {
    TORCH_CHECK(device >= 0 && device < c10::cuda::device_count(), "no CUDA device ", device);
    s = new fs_stream{c10::cuda::getStreamFromPool(false, static_cast<c10::DeviceIndex>(device))};
  });
  return s;
}

// c10's current stream is per thread: this sets the calling thread's only.
extern "C" int fs_stream_make_current(fs_stream* s, char** err) {
  return froster_shim::guarded(err, [&] { c10::cuda::setCurrentCUDAStream(s->stream); });
}

extern "C" int fs_stream_synchronize(fs_stream* s, char** err) {
  return froster_shim::guarded(err, [&] { s->stream.synchronize(); });
}

// Marks `tensor`'s memory as used by the calling thread's current stream on its device, so that the caching
// allocator does not hand it out again (to the stream that made it) before that stream's queued work is done.
extern "C" int fs_record_stream(void* tensor, char** err) {
  return froster_shim::guarded(err, [&] {
    auto& t = *static_cast<at::Tensor*>(tensor);
    TORCH_CHECK(t.is_cuda(), "record_stream of a tensor on ", t.device(), " (a CUDA tensor was expected)");
    t.record_stream(c10::cuda::getCurrentCUDAStream(t.device().index()));
  });
}

extern "C" void fs_stream_free(fs_stream* s) { delete s; }

#else

struct fs_stream {};

namespace {
int no_cuda(char** err) { return froster_shim::no_cuda(err, "CUDA streams"); }
}  // namespace

extern "C" fs_stream* fs_stream_new(int, char** err) {
  no_cuda(err);
  return nullptr;
}
extern "C" int fs_stream_make_current(fs_stream*, char** err) { return no_cuda(err); }
extern "C" int fs_stream_synchronize(fs_stream*, char** err) { return no_cuda(err); }
extern "C" int fs_record_stream(void*, char** err) { return no_cuda(err); }
extern "C" void fs_stream_free(fs_stream*) {}

#endif
