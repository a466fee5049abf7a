#pragma once
// The receiving end of sd_notify(3) for the master's workers: a datagram
// socket at an abstract address given to a worker as $NOTIFY_SOCKET, so a
// worker tells the master what it tells systemd when run alone (READY=1,
// RELOADING=1, STOPPING=1). Any local process may send to an abstract
// address: each message carries the sender's pid as the kernel saw it
// (SO_PASSCRED), and the master believes only its own worker's.
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::app {

class NotifyReceiver {
 public:
  struct Message {
    pid_t sender = 0;
    std::string text;  // "READY=1\nSTATUS=..."
  };

  // Bound at an abstract address the kernel chose, non-blocking.
  static Result<NotifyReceiver> open();

  [[nodiscard]] int fd() const { return fd_.get(); }
  // For $NOTIFY_SOCKET: "@<name>".
  [[nodiscard]] const std::string& address() const { return address_; }
  // Every message waiting now.
  std::vector<Message> receive();

 private:
  NotifyReceiver(UniqueFd fd, std::string address)
      : fd_(std::move(fd)), address_(std::move(address)) {}
  UniqueFd fd_;
  std::string address_;
};

// Pure: the value of `key` in a notify message ("READY=1\nSTATUS=x" has
// READY "1"); nullopt when the message has no such line.
std::optional<std::string> notify_field(std::string_view message, std::string_view key);

}  // namespace sniproxy::app
