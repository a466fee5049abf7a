#include "reactor/uring/io_uring_probe.hpp"

#include <liburing.h>
#include <sys/mman.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace sniproxy::reactor {
namespace {

struct ProbeDeleter {
  void operator()(io_uring_probe* probe) const { io_uring_free_probe(probe); }
};

class ThrowawayRing {
 public:
  ThrowawayRing() { error_ = io_uring_queue_init(4, &ring_, 0); }
  ~ThrowawayRing() {
    if (error_ == 0) io_uring_queue_exit(&ring_);
  }
  ThrowawayRing(const ThrowawayRing&) = delete;
  ThrowawayRing& operator=(const ThrowawayRing&) = delete;
  [[nodiscard]] int error() const { return error_; }
  io_uring* get() { return &ring_; }

 private:
  io_uring ring_{};
  int error_ = 0;
};

bool buffer_ring_registers(io_uring* ring) {
  constexpr unsigned kEntries = 8;
  constexpr int kGroup = 0x5e;
  std::size_t size = kEntries * sizeof(io_uring_buf);
  void* memory = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (memory == MAP_FAILED) return false;
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<std::uint64_t>(memory);
  registration.ring_entries = kEntries;
  registration.bgid = kGroup;
  bool registered = io_uring_register_buf_ring(ring, &registration, 0) == 0;
  if (registered) io_uring_unregister_buf_ring(ring, kGroup);
  ::munmap(memory, size);
  return registered;
}

}  // namespace

std::pair<int, int> kernel_version_of(std::string_view release) {
  int major = 0;
  int minor = 0;
  const char* end = release.data() + release.size();
  auto [after_major, major_error] = std::from_chars(release.data(), end, major);
  if (major_error != std::errc() || after_major == end || *after_major != '.') return {0, 0};
  auto [after_minor, minor_error] = std::from_chars(after_major + 1, end, minor);
  if (minor_error != std::errc()) return {0, 0};
  return {major, minor};
}

IoUringFeatures probe_io_uring(std::string_view kernel_release) {
  IoUringFeatures features;
  ThrowawayRing ring;
  if (ring.error() != 0) {
    features.error = fmt::format(
        "io_uring_setup failed: {} (blocked by seccomp in a container, or "
        "kernel.io_uring_disabled set?)",
        std::strerror(-ring.error()));
    return features;
  }
  features.available = true;
  std::unique_ptr<io_uring_probe, ProbeDeleter> probe(io_uring_get_probe_ring(ring.get()));
  if (probe) {
    features.splice = io_uring_opcode_supported(probe.get(), IORING_OP_SPLICE) != 0;
    features.accept = io_uring_opcode_supported(probe.get(), IORING_OP_ACCEPT) != 0;
    features.send_zc = io_uring_opcode_supported(probe.get(), IORING_OP_SEND_ZC) != 0;
  }
  // Multishot accept has no opcode of its own: it is a flag on ACCEPT that
  // kernels before 5.19 reject at completion time.
  features.multishot_accept =
      features.accept && kernel_version_of(kernel_release) >= std::pair{5, 19};
  features.provided_buffer_ring = buffer_ring_registers(ring.get());
  return features;
}

}  // namespace sniproxy::reactor
