#pragma once
// `sniproxy retrans ...` as a child process: output to files in a directory,
// signalled and always reaped.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sniproxy::retrans_test {

class RetransProcess {
 public:
  // `as_nobody`: the child drops to uid/gid 65534 first (no capabilities).
  RetransProcess(const std::string& binary, const std::vector<std::string>& args,
                 std::filesystem::path dir, bool as_nobody = false);
  ~RetransProcess();  // SIGKILL and reap when still running
  RetransProcess(const RetransProcess&) = delete;
  RetransProcess& operator=(const RetransProcess&) = delete;

  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] std::string out() const;
  [[nodiscard]] std::string err() const;
  // Waits until stderr contains `needle` (or the process exits).
  bool wait_for_err(const std::string& needle, std::chrono::milliseconds timeout);
  void signal(int signo) const;
  // Exit code (128 + signal when killed), nullopt while still running at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

}  // namespace sniproxy::retrans_test
