#include "slow_reader_backend.hpp"

#include <thread>
#include <vector>

#include "pattern.hpp"

namespace sniproxy::integration {

bool SlowReaderResult::wait_done(Deadline deadline) const {
  while (!done && !deadline.expired()) std::this_thread::sleep_for(milliseconds(10));
  return done;
}

BackendHandler slow_reader(SlowReaderPlan plan, std::shared_ptr<SlowReaderResult> result) {
  return [plan, result](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(60'000));
    std::vector<std::uint8_t> hello;
    if (read_exact(c.fd.get(), plan.hello_size, hello, d) != IoStatus::ok) return;
    while (plan.hold_until_released && !result->release && !d.expired())
      std::this_thread::sleep_for(milliseconds(5));
    PatternChecker checker(plan.seed);
    std::vector<std::uint8_t> buf;
    while (true) {
      buf.clear();
      if (read_some(c.fd.get(), buf, d) != IoStatus::ok) break;
      checker.consume(buf);
      if (plan.pause_after_read.count() > 0) std::this_thread::sleep_for(plan.pause_after_read);
    }
    result->bytes = checker.bytes();
    result->in_order = !checker.first_mismatch().has_value();
    result->done = true;
  };
}

}  // namespace sniproxy::integration
