#pragma once
// Bulk TCP traffic for the retrans tests: a receiver that discards what it
// reads (threads of this process, its sockets in the receiver namespace),
// and sender processes with known PIDs and names (fork + prctl) in the
// sender namespace, each streaming to the receiver for a fixed time.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::retrans_test {

class Receiver {
 public:
  // Listens on `address`:0 inside namespace `ns`. Check error() after.
  Receiver(const std::string& ns, std::string_view address);
  ~Receiver();  // stops accepting, joins every thread
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] Endpoint endpoint() const { return endpoint_; }
  [[nodiscard]] std::uint64_t bytes() const { return bytes_; }
  // Connections that reached EOF (the sender closed after all its data).
  [[nodiscard]] int finished() const { return finished_; }
  bool wait_finished(int count, std::chrono::milliseconds timeout) const;

 private:
  void accept_loop();
  void read_loop(UniqueFd connection);

  std::string error_;
  Endpoint endpoint_;
  UniqueFd listener_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<int> finished_{0};
  std::thread acceptor_;
  std::vector<std::thread> readers_;  // touched only by acceptor_, joined after it
};

struct Sender {
  pid_t pid = -1;
  std::string comm;
  Endpoint local;  // the sender's end of its one connection
};

// Forks a process in namespace `ns` named `comm` (at most 15 characters)
// that connects to `to`, sends with `write_size`-byte writes for `duration`,
// closes and exits. Returns once it is connected (local endpoint known);
// pid -1 and `error` set on failure.
Sender start_sender(const std::string& ns, const std::string& comm, const Endpoint& to,
                    std::chrono::milliseconds duration, std::size_t write_size, std::string& error);

// Waits for the sender to exit (SIGKILL after `timeout`); true when it exited 0.
bool wait_sender(const Sender& sender, std::chrono::milliseconds timeout);

}  // namespace sniproxy::retrans_test
