#pragma once
// Ready-made backend handlers. Each one is bounded in time: it ends on its
// own deadline, on the peer's close, or when the Backend is destroyed.
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend.hpp"

namespace sniproxy::integration {

// Echoes every byte until EOF, then half-closes and waits for the close.
BackendHandler echo_handler();

// What a recording backend saw, per accepted connection.
class Recording {
 public:
  struct Seen {
    std::vector<std::uint8_t> bytes;
    bool closed = false;  // EOF or reset seen
    IoStatus close_status = IoStatus::ok;
    Endpoint peer;
  };
  void begin(int index, Endpoint peer);
  void add(int index, std::span<const std::uint8_t> bytes);
  void close(int index, IoStatus status);
  // Waits until connection `index` delivered at least n bytes (or closed).
  Seen wait_bytes(int index, std::size_t n, Deadline deadline);
  Seen wait_closed(int index, Deadline deadline);
  int connections();

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Seen> seen_;
};

// Sends `greeting` at once, then records everything received until the peer
// closes (or 30 s pass).
BackendHandler recording_handler(std::shared_ptr<Recording> recording, std::string greeting = "");

// A Backend running recording_handler, with its Recording at hand: what most
// routing tests put behind a route.
class RecordingBackend : public Backend {
 public:
  explicit RecordingBackend(std::string greeting = "", const Endpoint& at = loopback(0))
      : RecordingBackend(std::make_shared<Recording>(), std::move(greeting), at) {}

  [[nodiscard]] Recording& recording() const { return *recording_; }

 private:
  RecordingBackend(std::shared_ptr<Recording> recording, std::string greeting, const Endpoint& at)
      : Backend(recording_handler(recording, std::move(greeting)), 128, at),
        recording_(std::move(recording)) {}

  std::shared_ptr<Recording> recording_;
};

struct SinkResult {
  std::mutex mutex;
  std::vector<std::uint64_t> bytes;  // per connection, when it closed
  std::vector<std::uint64_t> fnv;
};
// Reads and counts until EOF, then closes.
BackendHandler sink_handler(std::shared_ptr<SinkResult> result);

// Reads `skip` bytes (the hello), sends n bytes of pattern(seed), closes.
BackendHandler send_pattern_handler(std::size_t skip, std::uint64_t n, std::uint64_t seed);

// Accepts and resets at once / after reading n bytes.
BackendHandler reset_handler(std::size_t after_bytes = 0);
// Accepts and closes at once.
BackendHandler close_handler();

}  // namespace sniproxy::integration
