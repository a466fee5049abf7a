#pragma once
// Sends whole Ethernet frames out of one interface (AF_PACKET, SOCK_RAW):
// any source address, any header, as a SYN flood or a broken packet needs.
// Opened in the network namespace of the calling thread.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::frames {

class PacketSocket {
 public:
  static Result<PacketSocket> open(const std::string& ifname);

  // Sends every frame, in batches of sendmmsg(2); returns how many the
  // kernel accepted (fewer only on an error, reported in `error`).
  std::size_t send(std::span<const std::vector<std::uint8_t>> frames);
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  UniqueFd fd_;
  int ifindex_ = 0;
  std::string error_;
};

}  // namespace sniproxy::frames
