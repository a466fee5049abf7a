// [quic] socket_buffer on a real UDP socket: what the kernel grants is read
// back (halved), and a shortfall names the sysctl to raise.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/unique_fd.hpp"
#include "proxy/quic/socket_buffers.hpp"

namespace sniproxy::proxy::quic {
namespace {

TEST(QuicSocketBuffersTest, ASizeUnderTheCapIsGrantedBothWays) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP));
  ASSERT_TRUE(fd);
  // 64 KiB is under any net.core.[rw]mem_max: granted without FORCE.
  const SocketBufferGrant grant = size_socket_buffers(fd.get(), 65'536, false);
  EXPECT_FALSE(grant.forced);
  EXPECT_EQ(grant.receive, 65'536u);
  EXPECT_EQ(grant.send, 65'536u);
  EXPECT_EQ(socket_buffer_shortfall(grant, 65'536), "");
}

TEST(QuicSocketBuffersTest, AShortfallNamesWhatToRaise) {
  EXPECT_EQ(socket_buffer_shortfall({.receive = 212'992, .send = 4'194'304}, 4'194'304),
            "raise net.core.rmem_max=4194304 (sysctl), or give the proxy CAP_NET_ADMIN");
  EXPECT_EQ(socket_buffer_shortfall({.receive = 212'992, .send = 212'992}, 4'194'304),
            "raise net.core.rmem_max=4194304 and net.core.wmem_max=4194304 (sysctl), or give "
            "the proxy CAP_NET_ADMIN");
}

}  // namespace
}  // namespace sniproxy::proxy::quic
