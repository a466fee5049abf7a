#pragma once
// Offsets of the few kernel struct fields sockmap.bpf.c reads, taken from the
// running kernel's BTF (/sys/kernel/btf/vmlinux). The header tree BCC
// compiles against may belong to an older kernel (docs/kernel.md), so its struct
// layouts cannot be trusted; BTF describes the kernel that is running.
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace sniproxy::bpf {

// Where the running kernel describes its own types.
inline constexpr const char* kKernelBtfPath = "/sys/kernel/btf/vmlinux";

struct SkbSeqLayout {
  std::uint32_t skb_cb = 0;           // struct sk_buff: char cb[48]
  std::uint32_t skb_sk = 0;           // struct sk_buff: struct sock *sk
  std::uint32_t cb_seq = 0;           // struct tcp_skb_cb: __u32 seq (within cb)
  std::uint32_t sock_copied_seq = 0;  // struct tcp_sock: u32 copied_seq

  // As -D flags for the BCC compile of sockmap.bpf.c.
  [[nodiscard]] std::vector<std::string> cflags() const;
};

// Reads the layout from `btf_path`; the error names the field it could not
// find (a kernel without BTF, or one that renamed it).
Result<SkbSeqLayout> read_skb_seq_layout(const std::string& btf_path = kKernelBtfPath);

}  // namespace sniproxy::bpf
