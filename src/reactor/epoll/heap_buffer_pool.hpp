#pragma once
// The epoll backend's receive buffers: the same bound as io_uring's
// provided-buffer ring (`count` buffers of `size` bytes), handed out by the
// reactor itself when a pooled receive finds data.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "reactor/reactor.hpp"

namespace sniproxy::reactor {

class HeapBufferPool final : public BufferPool {
 public:
  HeapBufferPool(std::uint32_t count, std::uint32_t size);

  [[nodiscard]] std::uint32_t buffer_size() const override { return size_; }
  std::span<std::uint8_t> buffer(std::uint16_t id) override {
    return {data_.get() + static_cast<std::size_t>(id) * size_, size_};
  }
  void recycle(std::uint16_t id) override { free_.push_back(id); }
  [[nodiscard]] std::uint32_t available() const override {
    return static_cast<std::uint32_t>(free_.size());
  }
  // A free buffer for a receive, or nullopt when every one is held.
  std::optional<std::uint16_t> take();

 private:
  std::uint32_t size_;
  // Not value-initialised: pages are touched only when a buffer is used.
  std::unique_ptr<std::uint8_t[]> data_;
  std::vector<std::uint16_t> free_;
};

}  // namespace sniproxy::reactor
