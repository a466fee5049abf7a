// The packet-info control messages: parsed and written in memory, then on
// real sockets bound to wildcard addresses, once per backend: a datagram
// sent to 127.0.0.2 (or ::1) reports that address, and a reply sent with
// it as the source leaves from it.
#include "reactor/packet_info.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "common/unique_fd.hpp"
#include "reactor/backend.hpp"
#include "reactor/reactor.hpp"
#include "reactor_fixture.hpp"

// Its own namespace: the unity build puts it beside reactor_test.cpp.
namespace sniproxy::reactor::packet_info_test {
namespace {

using namespace std::chrono_literals;

// A control buffer holding one message of `level`/`type` with `data`.
template <typename T>
struct OneMessage {
  alignas(cmsghdr) unsigned char bytes[CMSG_SPACE(sizeof(T))]{};
  OneMessage(int level, int type, const T& data, std::size_t length = sizeof(T)) {
    auto* m = reinterpret_cast<cmsghdr*>(bytes);
    m->cmsg_level = level;
    m->cmsg_type = type;
    m->cmsg_len = CMSG_LEN(length);
    std::memcpy(CMSG_DATA(m), &data, sizeof data);
  }
  [[nodiscard]] const cmsghdr& header() const { return *reinterpret_cast<const cmsghdr*>(bytes); }
};

std::string text_of(const sockaddr_storage& a) {
  char out[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr, out, sizeof out);
  else if (a.ss_family == AF_INET6)
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr, out, sizeof out);
  return out;
}

sockaddr_storage address(int family, const char* text, std::uint16_t port = 0) {
  sockaddr_storage out{};
  if (family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    EXPECT_EQ(::inet_pton(AF_INET, text, &v4->sin_addr), 1);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    EXPECT_EQ(::inet_pton(AF_INET6, text, &v6->sin6_addr), 1);
  }
  return out;
}

TEST(PacketInfo, ReadsTheHeaderDestinationOfAnIpv4Message) {
  in_pktinfo info{};
  ::inet_pton(AF_INET, "127.0.0.2", &info.ipi_addr);
  ::inet_pton(AF_INET, "10.9.9.9", &info.ipi_spec_dst);  // routing's choice: not it
  info.ipi_ifindex = 1;
  auto local = destination_of(OneMessage(IPPROTO_IP, IP_PKTINFO, info).header());
  ASSERT_TRUE(local);
  EXPECT_EQ(local->ss_family, AF_INET);
  EXPECT_EQ(text_of(*local), "127.0.0.2");
  EXPECT_EQ(reinterpret_cast<const sockaddr_in*>(&*local)->sin_port, 0);
}

TEST(PacketInfo, ReadsAnIpv6Message) {
  in6_pktinfo info{};
  ::inet_pton(AF_INET6, "2001:db8::7", &info.ipi6_addr);
  auto local = destination_of(OneMessage(IPPROTO_IPV6, IPV6_PKTINFO, info).header());
  ASSERT_TRUE(local);
  EXPECT_EQ(local->ss_family, AF_INET6);
  EXPECT_EQ(text_of(*local), "2001:db8::7");
}

TEST(PacketInfo, IgnoresOtherAndShortMessages) {
  in_pktinfo info{};
  EXPECT_FALSE(destination_of(OneMessage(SOL_SOCKET, SO_TIMESTAMP, info).header()));
  EXPECT_FALSE(destination_of(OneMessage(IPPROTO_IP, IP_TOS, info).header()));
  EXPECT_FALSE(destination_of(OneMessage(IPPROTO_IP, IP_PKTINFO, info, 4).header()));
  in6_pktinfo info6{};
  EXPECT_FALSE(destination_of(OneMessage(IPPROTO_IPV6, IPV6_PKTINFO, info6, 16).header()));
}

TEST(PacketInfo, WritesTheSourceOfEachFamily) {
  const SourceControl v4 = source_control(address(AF_INET, "127.0.0.2", 443));
  ASSERT_EQ(v4.length, CMSG_SPACE(sizeof(in_pktinfo)));
  const auto* m4 = reinterpret_cast<const cmsghdr*>(v4.bytes);
  EXPECT_EQ(m4->cmsg_level, IPPROTO_IP);
  EXPECT_EQ(m4->cmsg_type, IP_PKTINFO);
  in_pktinfo info{};
  std::memcpy(&info, CMSG_DATA(const_cast<cmsghdr*>(m4)), sizeof info);
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &info.ipi_spec_dst, text, sizeof text);
  EXPECT_STREQ(text, "127.0.0.2");
  EXPECT_EQ(info.ipi_ifindex, 0);  // the route picks the interface

  const SourceControl v6 = source_control(address(AF_INET6, "::1"));
  ASSERT_EQ(v6.length, CMSG_SPACE(sizeof(in6_pktinfo)));
  auto read_back = destination_of(*reinterpret_cast<const cmsghdr*>(v6.bytes));
  ASSERT_TRUE(read_back);
  EXPECT_EQ(text_of(*read_back), "::1");

  EXPECT_EQ(source_control(sockaddr_storage{}).length, 0u);
}

using test::Recorder;

class PacketInfoSocketTest : public test::ReactorFixture {
 protected:
  // A UDP socket bound to `at` (port 0: any); `at` takes the port bound.
  static UniqueFd bound(sockaddr_storage& at, bool v6only = true) {
    UniqueFd fd(::socket(at.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (at.ss_family == AF_INET6) {
      const int only = v6only ? 1 : 0;
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
    }
    socklen_t length = at.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&at), length), 0);
    EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&at), &length), 0);
    return fd;
  }

  static std::uint16_t port_of(const sockaddr_storage& a) {
    return a.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(&a)->sin_port
                                  : reinterpret_cast<const sockaddr_in6*>(&a)->sin6_port;
  }

  // `client` (bound at `client_at`) sends to the wildcard `listener`'s port
  // at `to`; the listener's datagram names `to` as its local address, and
  // its reply with `to` as the source arrives from `to` (checked by address
  // on a socket connected to it, which takes nothing else).
  void round_trip(int listener, std::uint16_t listener_port, sockaddr_storage client_at,
                  sockaddr_storage to, const char* expected_local) {
    UniqueFd client = bound(client_at, false);
    if (to.ss_family == AF_INET)
      reinterpret_cast<sockaddr_in*>(&to)->sin_port = listener_port;
    else
      reinterpret_cast<sockaddr_in6*>(&to)->sin6_port = listener_port;
    const socklen_t to_length =
        to.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&to), to_length), 0);
    ASSERT_EQ(::send(client.get(), "ping", 4, 0), 4);

    Recorder received;
    reactor_->recvmsg_multishot(listener, &received);
    ASSERT_TRUE(run_until([&] { return !received.events.empty(); }));
    const Event e = received.events.front();
    auto d = reactor_->datagram(e);
    ASSERT_TRUE(d);
    ASSERT_TRUE(d->has_local);
    EXPECT_EQ(text_of(d->local), expected_local);
    sockaddr_storage peer = d->peer;
    const socklen_t peer_length = d->peer_length;
    const sockaddr_storage local = d->local;
    reactor_->buffers().recycle(static_cast<std::uint16_t>(e.buffer));
    reactor_->cancel(&received);
    ASSERT_TRUE(run_until([&] { return !received.events.back().more; }));

    SourceControl control = source_control(local);
    char reply[] = "pong";
    iovec iov{reply, 4};
    msghdr message{};
    message.msg_name = &peer;
    message.msg_namelen = peer_length;
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.bytes;
    message.msg_controllen = control.length;
    Recorder sent;
    reactor_->sendmsg(listener, &message, &sent);
    ASSERT_TRUE(run_until([&] { return !sent.events.empty(); }));
    ASSERT_EQ(sent.events.front().res, 4) << std::strerror(-sent.events.front().res);
    char got[8] = {};
    ssize_t n = -1;
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (n < 0 && std::chrono::steady_clock::now() < deadline) {
      n = ::recv(client.get(), got, sizeof got, MSG_DONTWAIT);
      if (n < 0) reactor_->run_once(10ms);
    }
    EXPECT_EQ(std::string(got, n > 0 ? static_cast<std::size_t>(n) : 0), "pong");
  }
};

TEST_P(PacketInfoSocketTest, AnIpv4WildcardSocketKnowsAndAnswersFromEachLocalAddress) {
  sockaddr_storage any = address(AF_INET, "0.0.0.0");
  UniqueFd listener = bound(any);
  ASSERT_EQ(request_packet_info(listener.get(), AF_INET), 0);
  round_trip(listener.get(), port_of(any), address(AF_INET, "127.0.0.1"),
             address(AF_INET, "127.0.0.2"), "127.0.0.2");
  round_trip(listener.get(), port_of(any), address(AF_INET, "127.0.0.1"),
             address(AF_INET, "127.0.0.1"), "127.0.0.1");
}

TEST_P(PacketInfoSocketTest, AnIpv6WildcardSocketKnowsItsIpv6AndIpv4MappedAddresses) {
  sockaddr_storage any = address(AF_INET6, "::");
  UniqueFd listener = bound(any, false);  // dual-stack
  ASSERT_EQ(request_packet_info(listener.get(), AF_INET6), 0);
  round_trip(listener.get(), port_of(any), address(AF_INET6, "::1"), address(AF_INET6, "::1"),
             "::1");
  // An IPv4 client: the kernel gives IP_PKTINFO, an IPv4 address.
  round_trip(listener.get(), port_of(any), address(AF_INET, "127.0.0.1"),
             address(AF_INET, "127.0.0.3"), "127.0.0.3");
}

TEST_P(PacketInfoSocketTest, ASocketThatDidNotAskHasNoLocalAddress) {
  sockaddr_storage any = address(AF_INET, "0.0.0.0");
  UniqueFd listener = bound(any);
  sockaddr_storage client_at = address(AF_INET, "127.0.0.1");
  UniqueFd client = bound(client_at);
  sockaddr_storage to = address(AF_INET, "127.0.0.1");
  reinterpret_cast<sockaddr_in*>(&to)->sin_port = port_of(any);
  ASSERT_EQ(
      ::sendto(client.get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof(sockaddr_in)), 1);
  Recorder received;
  reactor_->recvmsg_multishot(listener.get(), &received);
  ASSERT_TRUE(run_until([&] { return !received.events.empty(); }));
  auto d = reactor_->datagram(received.events.front());
  ASSERT_TRUE(d);
  EXPECT_FALSE(d->has_local);
  EXPECT_EQ(d->payload.size(), 1u);
  reactor_->buffers().recycle(static_cast<std::uint16_t>(received.events.front().buffer));
  reactor_->cancel(&received);
  ASSERT_TRUE(run_until([&] { return !received.events.back().more; }));
}

INSTANTIATE_TEST_SUITE_P(Backends, PacketInfoSocketTest,
                         ::testing::Values(BackendKind::io_uring, BackendKind::epoll),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace sniproxy::reactor::packet_info_test
