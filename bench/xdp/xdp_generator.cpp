#include "xdp_generator.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/unique_fd.hpp"

namespace sniproxy::frames {
namespace {

long bpf(int command, bpf_attr& attr) {
  return ::syscall(__NR_bpf, command, &attr, sizeof attr);
}

bpf_insn instruction(std::uint8_t code, std::uint8_t dst, std::int32_t imm) {
  bpf_insn insn{};
  insn.code = code;
  insn.dst_reg = dst & 0x0f;
  insn.imm = imm;
  return insn;
}

// r1 = ifindex; r2 = 0; r0 = bpf_redirect(r1, r2); return r0.
Result<UniqueFd> load_redirect_program(int ifindex) {
  const bpf_insn program[] = {
      instruction(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, ifindex),
      instruction(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0),
      instruction(BPF_JMP | BPF_CALL, 0, BPF_FUNC_redirect),
      instruction(BPF_JMP | BPF_EXIT, 0, 0),
  };
  static const char kLicense[] = "GPL";
  bpf_attr attr{};
  attr.prog_type = BPF_PROG_TYPE_XDP;
  attr.insns = reinterpret_cast<std::uint64_t>(program);
  attr.insn_cnt = sizeof program / sizeof program[0];
  attr.license = reinterpret_cast<std::uint64_t>(kLicense);
  std::strncpy(attr.prog_name, "bench_redirect", sizeof attr.prog_name - 1);
  UniqueFd fd(static_cast<int>(bpf(BPF_PROG_LOAD, attr)));
  if (!fd) return make_error(fmt::format("loading the redirect program: {}", std::strerror(errno)));
  return fd;
}

}  // namespace

Result<bool> redirect_frames(const std::string& ifname, const std::vector<std::uint8_t>& frame,
                             std::uint32_t count) {
  const int ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
  if (ifindex == 0) return make_error(fmt::format("no interface {}", ifname));
  auto program = load_redirect_program(ifindex);
  if (!program.ok()) return program.error();
  bpf_attr attr{};
  attr.test.prog_fd = static_cast<std::uint32_t>(program->get());
  attr.test.data_in = reinterpret_cast<std::uint64_t>(frame.data());
  attr.test.data_size_in = static_cast<std::uint32_t>(frame.size());
  attr.test.repeat = count;
  attr.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
  if (bpf(BPF_PROG_TEST_RUN, attr) != 0) {
    return make_error(
        fmt::format("BPF_PROG_TEST_RUN (live frames, Linux 5.18+): {}", std::strerror(errno)));
  }
  return true;
}

Result<bool> enable_gro(const std::string& ifname) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(fmt::format("socket: {}", std::strerror(errno)));
  ethtool_value value{};
  value.cmd = ETHTOOL_SGRO;
  value.data = 1;
  ifreq request{};
  std::strncpy(request.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&value);
  if (::ioctl(fd.get(), SIOCETHTOOL, &request) != 0) {
    return make_error(fmt::format("GRO on {}: {}", ifname, std::strerror(errno)));
  }
  return true;
}

}  // namespace sniproxy::frames
