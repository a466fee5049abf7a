#include "reactor/uring/buffer_ring.hpp"

#include <fmt/format.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace sniproxy::reactor {

Result<std::unique_ptr<BufferRing>> BufferRing::create(Ring& ring, std::uint16_t group,
                                                       std::uint32_t count, std::uint32_t size) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768)
    return make_error(fmt::format("buffer count {} is not a power of two <= 32768", count));
  std::unique_ptr<BufferRing> br(new BufferRing());
  br->ring_ = &ring;
  br->group_ = group;
  br->count_ = count;
  br->size_ = size;
  const std::size_t ring_bytes = count * sizeof(io_uring_buf);
  br->mapped_ = ring_bytes + static_cast<std::size_t>(count) * size;
  void* mem =
      mmap(nullptr, br->mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED)
    return make_error(
        fmt::format("mmap of {} buffer bytes failed: {}", br->mapped_, std::strerror(errno)));
  br->br_ = static_cast<io_uring_buf_ring*>(mem);
  br->data_ = static_cast<std::uint8_t*>(mem) + ring_bytes;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(mem);
  reg.ring_entries = count;
  reg.bgid = group;
  if (int rc = io_uring_register_buf_ring(ring.raw(), &reg, 0); rc < 0) {
    munmap(mem, br->mapped_);
    br->br_ = nullptr;
    return make_error(
        fmt::format("io_uring_register_buf_ring failed: {} (provided-buffer rings need Linux 5.19)",
                    std::strerror(-rc)));
  }
  io_uring_buf_ring_init(br->br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (std::uint32_t i = 0; i < count; ++i)
    io_uring_buf_ring_add(br->br_, br->buffer(static_cast<std::uint16_t>(i)).data(), size,
                          static_cast<unsigned short>(i), mask, static_cast<int>(i));
  io_uring_buf_ring_advance(br->br_, static_cast<int>(count));
  br->available_ = count;
  return br;
}

BufferRing::~BufferRing() {
  if (br_ == nullptr) return;
  io_uring_unregister_buf_ring(ring_->raw(), group_);
  munmap(br_, mapped_);
}

void BufferRing::recycle(std::uint16_t id) {
  io_uring_buf_ring_add(br_, buffer(id).data(), size_, id, io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
  ++available_;
}

}  // namespace sniproxy::reactor
