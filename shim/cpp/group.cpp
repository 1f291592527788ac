// The process group: a TCPStore for the rendezvous and a c10d backend for the collectives.
#include "shim.h"
#include "guard.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

c10::intrusive_ptr<c10d::Backend> fs_make_nccl(const c10::intrusive_ptr<c10d::Store>& store, int rank, int world,
                                               std::chrono::milliseconds timeout);

struct fs_group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::chrono::milliseconds timeout;
};

namespace {

using froster_shim::guarded;
using froster_shim::set_err;

bool is_loopback(const std::string& addr) {
  return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1";
}

c10::intrusive_ptr<c10d::Backend> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, const std::string& addr,
                                            int rank, int world, std::chrono::milliseconds timeout) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  // One machine: loopback, whatever the host name resolves to. Many: GLOO_SOCKET_IFNAME, else the host name.
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else if (is_loopback(addr)) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);
}

std::vector<at::Tensor> tensors_of(void* const* ptrs, size_t n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (size_t i = 0; i < n; i++) v.push_back(*static_cast<at::Tensor*>(ptrs[i]));
  return v;
}

void wait_all(std::vector<c10::intrusive_ptr<c10d::Work>>& works, std::chrono::milliseconds timeout) {
  for (auto& w : works) w->wait(timeout);
}

}  // namespace

extern "C" {

fs_group* fs_group_new(const char* backend, const char* master_addr, int port, int rank, int world,
                       int host_store, int64_t timeout_ms, char** err) {
  fs_group* g = nullptr;
  guarded(err, [&] {
    if (world < 1 || rank < 0 || rank >= world) throw std::runtime_error("rank must be in 0..world");
    if (port < 1 || port > 65535) throw std::runtime_error("port must be in 1..65535");
    auto timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(port);
    so.isServer = host_store && rank == 0;
    so.numWorkers = static_cast<size_t>(world);
    so.waitWorkers = true;
    so.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(master_addr, so);
    std::string b(backend);
    c10::intrusive_ptr<c10d::Backend> pg;
    if (b == "gloo") {
      pg = make_gloo(store, master_addr, rank, world, timeout);
    } else if (b == "nccl") {
      pg = fs_make_nccl(store, rank, world, timeout);
    } else {
      throw std::runtime_error("unknown backend '" + b + "' (gloo or nccl)");
    }
    g = new fs_group{store, pg, timeout};
  });
  return g;
}

void fs_group_free(fs_group* g) { delete g; }

int fs_allreduce_sum(fs_group* g, void* const* tensors, size_t n, char** err) {
  return guarded(err, [&] {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (size_t i = 0; i < n; i++) {
      std::vector<at::Tensor> one{*static_cast<at::Tensor*>(tensors[i])};
      works.push_back(g->backend->allreduce(one, c10d::AllreduceOptions()));
    }
    wait_all(works, g->timeout);
  });
}

int fs_broadcast(fs_group* g, void* const* tensors, size_t n, int root, char** err) {
  return guarded(err, [&] {
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    c10d::BroadcastOptions o;
    o.rootRank = root;
    for (auto& t : tensors_of(tensors, n)) {
      std::vector<at::Tensor> one{t};
      works.push_back(g->backend->broadcast(one, o));
    }
    wait_all(works, g->timeout);
  });
}

int fs_barrier(fs_group* g, char** err) {
  return guarded(err, [&] {
    auto w = g->backend->barrier(c10d::BarrierOptions());
    w->wait(g->timeout);
  });
}

int fs_store_set(fs_group* g, const char* key, const uint8_t* data, size_t len, char** err) {
  return guarded(err, [&] { g->store->set(key, std::vector<uint8_t>(data, data + len)); });
}

int fs_store_try_get(fs_group* g, const char* key, uint8_t** out, size_t* len, int* found, char** err) {
  return guarded(err, [&] {
    *found = 0;
    *out = nullptr;
    *len = 0;
    if (!g->store->check({key})) return;
    auto v = g->store->get(key);
    *out = static_cast<uint8_t*>(std::malloc(v.size() ? v.size() : 1));
    if (!*out) throw std::runtime_error("out of memory");
    std::memcpy(*out, v.data(), v.size());
    *len = v.size();
    *found = 1;
  });
}

void fs_free(void* p) { std::free(p); }

}  // extern "C"
