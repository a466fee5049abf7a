#pragma once
// A backend that reads a pattern stream (pattern.hpp) more slowly than a
// client sends it: not at all until released, and/or with a pause after
// every read. What the slow-reader and the sockmap bulk suites put behind
// their route to make the proxy's queues towards a backend fill up.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "backend.hpp"

namespace sniproxy::integration {

// What the reader saw, written by its thread and read by the test's.
struct SlowReaderResult {
  std::atomic<bool> release{false};  // lets a reader planned to hold go on
  std::atomic<bool> done{false};     // the stream's end (or its deadline) came
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<bool> in_order{false};  // every byte matched the pattern

  // Waits (bounded) for `done`; its value.
  bool wait_done(Deadline deadline) const;
};

struct SlowReaderPlan {
  std::uint64_t seed = 0;            // of the pattern stream expected after the hello
  std::size_t hello_size = 0;        // bytes read first, unchecked
  bool hold_until_released = false;  // then nothing until `release`
  milliseconds pause_after_read{0};
};

// Reads the hello, then (if it holds) nothing until `result->release`, then
// the stream to its end, pausing after each read; all within 60 s.
BackendHandler slow_reader(SlowReaderPlan plan, std::shared_ptr<SlowReaderResult> result);

}  // namespace sniproxy::integration
