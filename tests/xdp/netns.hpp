#pragma once
// Network namespaces for the XDP tests, made with iproute2 and always
// removed again (RAII), and a way to run code inside one: a thread that
// joined it with setns(2). Sockets that thread creates, and processes it
// starts, stay in that namespace.
#include <functional>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

namespace sniproxy::xdp_test {

// Runs `ip ARGS...` (bounded in time); "" on success, else what it printed.
std::string ip(const std::vector<std::string>& args);

class NetNs {
 public:
  explicit NetNs(std::string name);  // ip netns add
  ~NetNs();                          // ip netns del: its devices go with it
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& error() const { return error_; }  // "" when it exists

 private:
  std::string name_;
  std::string error_;
};

// Runs `fn` on a new thread inside network namespace `ns` and waits for it.
// Returns "" or why the thread could not enter the namespace.
std::string run_in(const std::string& ns, const std::function<void()>& fn);

}  // namespace sniproxy::xdp_test
