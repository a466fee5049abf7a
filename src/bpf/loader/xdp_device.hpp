#pragma once
// A network device's XDP hook, through rtnetlink: which programs are attached
// in which mode, and setting one such that the kernel itself checks what it
// replaces (XDP_FLAGS_UPDATE_IF_NOEXIST / XDP_FLAGS_REPLACE), so a program
// that someone else attached is never overwritten by accident.
//
// Works in the network namespace of the calling thread.
#include <cstdint>
#include <string>
#include <string_view>

#include "bpf/loader/loader.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::bpf {

// An rtnetlink socket. It speaks to the network namespace it was opened in,
// whichever thread uses it later: an XDP attachment keeps one so that its
// detach reaches the right device even from another thread or namespace.
class Rtnetlink {
 public:
  static Result<Rtnetlink> open();
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

struct XdpDevice {
  std::string name;
  int ifindex = 0;
  std::uint16_t type = 0;  // ARPHRD_*: ARPHRD_ETHER, ARPHRD_LOOPBACK, ...
  // Ids of the attached programs (0: none). Native and generic exclude each
  // other; offload (in the NIC) may come with either.
  std::uint32_t native_program = 0;
  std::uint32_t generic_program = 0;
  std::uint32_t offload_program = 0;
};

// Fails when there is no such interface.
Result<XdpDevice> query_xdp_device(std::string_view ifname);

// True for devices whose frames start with an Ethernet header at the XDP
// hook (Ethernet and loopback), which is what xdp_filter.bpf.c parses.
bool has_ethernet_frames(const XdpDevice& device);

// Sets `program_fd` (-1: none) on the hook in `mode`. With expected_fd < 0
// only when nothing is attached in that mode; with expected_fd >= 0 only
// when the program attached is that one. The message of a failure includes
// the kernel's own reason (netlink extended ack) when it gave one.
Result<bool> set_xdp_program(const Rtnetlink& netlink, int ifindex, int program_fd, XdpMode mode,
                             int expected_fd);

std::string_view to_string(XdpMode mode);

}  // namespace sniproxy::bpf
