#include "backend_behaviours.hpp"

#include "pattern.hpp"

namespace sniproxy::integration {

namespace {
constexpr milliseconds kHandlerLimit{30'000};
}

BackendHandler echo_handler() {
  return [](BackendConnection& c) {
    const Deadline d = c.within(kHandlerLimit);
    std::vector<std::uint8_t> buf;
    while (true) {
      buf.clear();
      if (read_some(c.fd.get(), buf, d) != IoStatus::ok) break;
      if (send_all(c.fd.get(), buf, d) != IoStatus::ok) return;
    }
    shutdown_write(c.fd.get());
    read_until_closed(c.fd.get(), c.within(milliseconds(2000)));
  };
}

void Recording::begin(int index, Endpoint peer) {
  std::lock_guard lock(mutex_);
  if (seen_.size() <= static_cast<std::size_t>(index)) seen_.resize(index + 1);
  seen_[index].peer = peer;
  changed_.notify_all();
}

void Recording::add(int index, std::span<const std::uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  auto& s = seen_.at(index).bytes;
  s.insert(s.end(), bytes.begin(), bytes.end());
  changed_.notify_all();
}

void Recording::close(int index, IoStatus status) {
  std::lock_guard lock(mutex_);
  seen_.at(index).closed = true;
  seen_.at(index).close_status = status;
  changed_.notify_all();
}

Recording::Seen Recording::wait_bytes(int index, std::size_t n, Deadline deadline) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline.at, [&] {
    if (seen_.size() <= static_cast<std::size_t>(index)) return false;
    return seen_[index].bytes.size() >= n || seen_[index].closed;
  });
  if (seen_.size() <= static_cast<std::size_t>(index)) return Seen{};
  return seen_[index];
}

Recording::Seen Recording::wait_closed(int index, Deadline deadline) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline.at, [&] {
    return seen_.size() > static_cast<std::size_t>(index) && seen_[index].closed;
  });
  if (seen_.size() <= static_cast<std::size_t>(index)) return Seen{};
  return seen_[index];
}

int Recording::connections() {
  std::lock_guard lock(mutex_);
  return static_cast<int>(seen_.size());
}

BackendHandler recording_handler(std::shared_ptr<Recording> recording, std::string greeting) {
  return [recording, greeting](BackendConnection& c) {
    recording->begin(c.index, c.peer);
    const Deadline d = c.within(kHandlerLimit);
    if (!greeting.empty()) send_all(c.fd.get(), greeting, d);
    std::vector<std::uint8_t> buf;
    while (true) {
      buf.clear();
      IoStatus s = read_some(c.fd.get(), buf, d);
      if (s != IoStatus::ok) {
        recording->close(c.index, s);
        return;
      }
      recording->add(c.index, buf);
    }
  };
}

BackendHandler sink_handler(std::shared_ptr<SinkResult> result) {
  return [result](BackendConnection& c) {
    const Deadline d = c.within(milliseconds(120'000));
    std::uint64_t count = 0;
    Fnv1a fnv;
    std::vector<std::uint8_t> buf;
    while (true) {
      buf.clear();
      if (read_some(c.fd.get(), buf, d) != IoStatus::ok) break;
      count += buf.size();
      fnv.add(buf);
    }
    std::lock_guard lock(result->mutex);
    result->bytes.push_back(count);
    result->fnv.push_back(fnv.value());
  };
}

BackendHandler send_pattern_handler(std::size_t skip, std::uint64_t n, std::uint64_t seed) {
  return [=](BackendConnection& c) {
    const Deadline d = c.within(kHandlerLimit);
    std::vector<std::uint8_t> hello;
    if (skip > 0 && read_exact(c.fd.get(), skip, hello, d) != IoStatus::ok) return;
    PatternStream stream(seed);
    std::vector<std::uint8_t> chunk(256 * 1024);
    for (std::uint64_t sent = 0; sent < n;) {
      const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), n - sent));
      stream.fill(std::span(chunk.data(), len));
      if (send_all(c.fd.get(), std::span(chunk.data(), len), d) != IoStatus::ok) return;
      sent += len;
    }
    shutdown_write(c.fd.get());
    read_until_closed(c.fd.get(), c.within(milliseconds(5000)));
  };
}

BackendHandler reset_handler(std::size_t after_bytes) {
  return [after_bytes](BackendConnection& c) {
    std::vector<std::uint8_t> got;
    if (after_bytes > 0) read_exact(c.fd.get(), after_bytes, got, c.within(kHandlerLimit));
    close_with_reset(c.fd);
  };
}

BackendHandler close_handler() {
  return [](BackendConnection& c) { c.fd.reset(); };
}

}  // namespace sniproxy::integration
