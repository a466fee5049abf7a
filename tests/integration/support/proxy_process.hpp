#pragma once
// The real sniproxy binary as a child process: started on a config file,
// probed until its listeners accept, signalled, and always reaped.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "socket_io.hpp"

namespace sniproxy::integration {

// $SNIPROXY_BIN, or "" when the suite runs without a binary.
std::string sniproxy_binary();

class ProxyProcess {
 public:
  // Output goes to <dir>/proxy.stdout and <dir>/proxy.stderr.
  ProxyProcess(std::string binary, std::filesystem::path config_path, std::filesystem::path dir);
  ~ProxyProcess();  // SIGKILL and reap when still running
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;

  // Starts the binary and waits until every port accepts a TCP connection.
  // Returns "" when ready, otherwise what went wrong (log tail included).
  std::string start(const std::vector<std::uint16_t>& ports,
                    milliseconds timeout = milliseconds(10'000));
  // "KEY=VALUE" entries added to the proxy's environment (before start()).
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }
  void signal(int signo) const;
  // The exit code (128 + signal when killed), or nullopt if still running at
  // the deadline.
  std::optional<int> wait_exit(milliseconds timeout);
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }
  // True once the test itself sent SIGTERM, SIGINT or SIGKILL.
  [[nodiscard]] bool stop_requested() const { return stop_requested_; }

  [[nodiscard]] std::string log() const;  // stderr so far
  // Waits until stderr holds `needle` at least `count` times.
  bool wait_for_log(std::string_view needle, Deadline deadline, int count = 1) const;
  [[nodiscard]] const std::filesystem::path& config_path() const { return config_; }

 private:
  std::string binary_;
  std::filesystem::path config_;
  std::filesystem::path dir_;
  std::vector<std::string> env_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  mutable bool stop_requested_ = false;
};

struct CommandResult {
  std::optional<int> exit_code;  // nullopt: killed after the timeout
  std::string out, err;
};
// Runs binary with args to completion (bounded), capturing stdout/stderr via
// files in dir.
CommandResult run_command(const std::string& binary, const std::vector<std::string>& args,
                          const std::filesystem::path& dir,
                          milliseconds timeout = milliseconds(10'000));

int count_occurrences(std::string_view haystack, std::string_view needle);

}  // namespace sniproxy::integration
