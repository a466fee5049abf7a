#include "reactor/epoll/heap_buffer_pool.hpp"

namespace sniproxy::reactor {

HeapBufferPool::HeapBufferPool(std::uint32_t count, std::uint32_t size)
    : size_(size), data_(new std::uint8_t[static_cast<std::size_t>(count) * size]) {  // NOLINT
  free_.reserve(count);
  // Lowest ids last, so they are taken first (as the ring hands them out).
  for (std::uint32_t i = count; i > 0; --i) free_.push_back(static_cast<std::uint16_t>(i - 1));
}

std::optional<std::uint16_t> HeapBufferPool::take() {
  if (free_.empty()) return std::nullopt;
  const std::uint16_t id = free_.back();
  free_.pop_back();
  return id;
}

}  // namespace sniproxy::reactor
