#pragma once
// What the [admin] endpoint answers: GET /metrics (Prometheus text) and
// GET /status (JSON). The handler runs on worker 0's thread; everything it
// reads is either immutable after start, atomic, or a BPF map read through
// a syscall.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "app/xdp_control.hpp"
#include "observe/admin_server.hpp"
#include "proxy/shared_state.hpp"
#include "proxy/worker.hpp"
#include "reactor/uring/io_uring_probe.hpp"

namespace sniproxy::app {

struct AdminContext {
  proxy::SharedState* shared = nullptr;
  std::vector<proxy::Worker*> workers;
  const XdpControl* xdp = nullptr;
  std::string config_path;
  std::chrono::system_clock::time_point started;
  std::atomic<std::int64_t> config_loaded_ms{0};  // Unix ms; updated by reloads
  std::string kernel_release;
  reactor::IoUringFeatures io_uring;
  std::string reactor_fallback_reason;     // why auto runs on epoll; "" otherwise
  bool retrans = false;                    // [retrans] is running
  std::vector<std::string> retrans_hooks;  // what the tracer attached to
};

// `ctx` must outlive the handler.
observe::AdminHandler make_admin_handler(const AdminContext& ctx);

// The bodies, for tests and the handler.
std::string metrics_body(const AdminContext& ctx);
std::string status_body(const AdminContext& ctx);

}  // namespace sniproxy::app
