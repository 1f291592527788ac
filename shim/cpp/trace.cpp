// A trace of what runs between two calls, through libtorch's own profiler (Kineto; CUPTI for the device's
// kernels): which kernels a step spends its device time in, and how much of the step the device is idle. The
// CPU ops recorded are the calling thread's; the device's activity is the whole process's.
#include "shim.h"
#include "guard.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <set>
#include <sstream>

namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

extern "C" int fs_trace_start(int device, char** err) {
  return froster_shim::guarded(err, [&] {
    std::set<ActivityType> activities{ActivityType::CPU};
    if (device) activities.insert(ActivityType::CUDA);
    ProfilerConfig config(ProfilerState::KINETO);
    prof::prepareProfiler(config, activities);
    prof::enableProfiler(config, activities);
  });
}

// One line per event: "device|cpu <TAB> start_ns <TAB> end_ns <TAB> name" (names keep their own tabs out: they
// are replaced by spaces).
extern "C" int fs_trace_stop(char** out, char** err) {
  return froster_shim::guarded(err, [&] {
    auto result = prof::disableProfiler();
    TORCH_CHECK(result, "the profiler returned no result");
    std::ostringstream lines;
    for (const auto& e : result->events()) {
      auto name = e.name();
      for (auto& c : name) {
        if (c == '\t' || c == '\n') c = ' ';
      }
      lines << (e.deviceType() == c10::DeviceType::CPU ? "cpu" : "device") << '\t' << e.startNs() << '\t'
            << e.endNs() << '\t' << name << '\n';
    }
    *out = froster_shim::copy_string(lines.str());
    TORCH_CHECK(*out, "out of memory for the trace's events");
  });
}
