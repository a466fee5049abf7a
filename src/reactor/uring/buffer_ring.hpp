#pragma once
// A provided-buffer ring: `count` buffers of `size` bytes that the kernel
// picks from when a receive is submitted with IOSQE_BUFFER_SELECT. Memory is
// mmap'd here (liburing 2.3 has no io_uring_setup_buf_ring).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "common/result.hpp"
#include "reactor/reactor.hpp"
#include "reactor/uring/ring.hpp"

namespace sniproxy::reactor {

class BufferRing final : public BufferPool {
 public:
  // count must be a power of two (<= 32768).
  static Result<std::unique_ptr<BufferRing>> create(Ring& ring, std::uint16_t group,
                                                    std::uint32_t count, std::uint32_t size);
  ~BufferRing() override;
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  [[nodiscard]] std::uint16_t group() const { return group_; }
  [[nodiscard]] std::uint32_t buffer_size() const override { return size_; }
  std::span<std::uint8_t> buffer(std::uint16_t id) override {
    return {data_ + static_cast<std::size_t>(id) * size_, size_};
  }
  // Hands buffer `id` back to the kernel.
  void recycle(std::uint16_t id) override;
  // Buffers the kernel may pick right now.
  [[nodiscard]] std::uint32_t available() const override { return available_; }
  // Called when a completion consumed one of our buffers.
  void note_taken() { --available_; }

 private:
  BufferRing() = default;
  Ring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  std::uint8_t* data_ = nullptr;
  std::size_t mapped_ = 0;
  std::uint16_t group_ = 0;
  std::uint32_t count_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t available_ = 0;
};

}  // namespace sniproxy::reactor
