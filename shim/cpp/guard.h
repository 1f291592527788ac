// The C API's error convention (shim.h): a call returns 0, or -1 with *err set to a malloc'd message.
#pragma once
#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace froster_shim {

// A malloc'd copy of `msg` (free with fs_free), or nullptr when out of memory.
inline char* copy_string(const std::string& msg) {
  char* s = static_cast<char*>(std::malloc(msg.size() + 1));
  if (s) std::memcpy(s, msg.c_str(), msg.size() + 1);
  return s;
}

inline void set_err(char** err, const std::string& msg) {
  if (err) *err = copy_string(msg);
}

// The answer of a call in a build without CUDA headers: -1, and *err says that `what` needs them.
inline int no_cuda(char** err, const char* what) {
  set_err(err, std::string("this build of froster-shim has no CUDA headers (") + what + " need them)");
  return -1;
}

// Runs `f`, turning any C++ exception into -1 and its message (without c10's backtrace).
template <typename F>
int guarded(char** err, F&& f) {
  try {
    f();
    return 0;
  } catch (const c10::Error& e) {
    set_err(err, e.what_without_backtrace());
  } catch (const std::exception& e) {
    set_err(err, e.what());
  } catch (...) {
    set_err(err, "unknown C++ exception");
  }
  return -1;
}

}  // namespace froster_shim
