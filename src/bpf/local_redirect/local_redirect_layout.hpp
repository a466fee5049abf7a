#pragma once
// The kernel struct offsets local_redirect.bpf.c reads, from the running
// kernel's BTF (see bpf/loader/kernel_layout.hpp for why not the headers).
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/loader/kernel_layout.hpp"
#include "common/result.hpp"

namespace sniproxy::bpf {

// What local_redirect.bpf.c reads of a socket: its receive memory, to compare
// with the cap, and the TCP sequence numbers that tell whether bytes that
// went through TCP have all been read.
struct LocalRedirectLayout {
  std::uint32_t rmem_alloc = 0;  // struct sock: sk_backlog.rmem_alloc (atomic_t)
  std::uint32_t write_seq = 0;   // struct tcp_sock: u32 write_seq
  std::uint32_t snd_una = 0;     // struct tcp_sock: u32 snd_una
  std::uint32_t rcv_nxt = 0;     // struct tcp_sock: u32 rcv_nxt
  std::uint32_t copied_seq = 0;  // struct tcp_sock: u32 copied_seq

  // As -D flags for the BCC compile of local_redirect.bpf.c.
  [[nodiscard]] std::vector<std::string> cflags() const;
};

Result<LocalRedirectLayout> read_local_redirect_layout(
    const std::string& btf_path = kKernelBtfPath);

}  // namespace sniproxy::bpf
