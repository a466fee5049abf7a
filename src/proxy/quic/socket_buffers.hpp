#pragma once
// The receive and send buffers of the QUIC listener and session sockets
// ([quic] socket_buffer). A datagram that arrives while the buffer is full
// is lost, and the one thread of the quic listeners can fall behind a burst
// for a while: the kernel's default (net.core.rmem_default, usually 208 KiB)
// lost most datagrams of an unpaced stream. SO_RCVBUFFORCE passes the
// net.core.rmem_max cap with CAP_NET_ADMIN; without it SO_RCVBUF is capped.
#include <cstdint>
#include <string>

namespace sniproxy::proxy::quic {

// What the kernel granted (getsockopt's value halved: the kernel doubles
// what it is asked for, for its bookkeeping).
struct SocketBufferGrant {
  std::uint32_t receive = 0;
  std::uint32_t send = 0;
  bool forced = false;  // the FORCE options were allowed (CAP_NET_ADMIN)
};

// Sets both buffers of `fd` to `bytes`: the FORCE options unless
// `try_force` is false or they are refused, then the capped ones.
SocketBufferGrant size_socket_buffers(int fd, std::uint32_t bytes, bool try_force = true);

// "" when `grant` has all of `asked`; else what to raise, for the operator.
std::string socket_buffer_shortfall(const SocketBufferGrant& grant, std::uint32_t asked);

}  // namespace sniproxy::proxy::quic
