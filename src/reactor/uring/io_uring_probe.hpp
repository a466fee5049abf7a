#pragma once
// Which io_uring operations the running kernel offers (and that seccomp lets
// this process use), probed on a throwaway ring.
#include <string>
#include <string_view>

namespace sniproxy::reactor {

struct IoUringFeatures {
  bool available = false;             // io_uring_setup works here
  std::string error;                  // why not, when !available
  bool splice = false;                // IORING_OP_SPLICE
  bool accept = false;                // IORING_OP_ACCEPT
  bool multishot_accept = false;      // ACCEPT and kernel >= 5.19
  bool provided_buffer_ring = false;  // io_uring_register_buf_ring accepted
  bool send_zc = false;               // IORING_OP_SEND_ZC
};

IoUringFeatures probe_io_uring(std::string_view kernel_release);

// (major, minor) of "6.18.44-fc-v657"; (0, 0) when unreadable.
std::pair<int, int> kernel_version_of(std::string_view release);

}  // namespace sniproxy::reactor
