// The master's pure and local parts: reading a worker's notify messages,
// the sockets it holds per listener across generations, and telling that
// an upgrade replaced its binary.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "app/master_sockets.hpp"
#include "app/notify_receiver.hpp"
#include "app/self_binary.hpp"

namespace sniproxy::app {
namespace {

TEST(NotifyField, FindsAKeyOnAnyLine) {
  const std::string m = "READY=1\nMAINPID=42\nSTATUS=running; 2 listeners";
  EXPECT_EQ(notify_field(m, "READY"), "1");
  EXPECT_EQ(notify_field(m, "MAINPID"), "42");
  EXPECT_EQ(notify_field(m, "STATUS"), "running; 2 listeners");
  EXPECT_EQ(notify_field(m, "RELOADING"), std::nullopt);
  EXPECT_EQ(notify_field("READYX=1", "READY"), std::nullopt);
  EXPECT_EQ(notify_field("", "READY"), std::nullopt);
}

// What sd_notify sends reaches the receiver with the sender's pid.
TEST(NotifyReceiver, TakesSdNotifyMessagesWithTheSendersPid) {
  auto rx = NotifyReceiver::open();
  ASSERT_TRUE(rx) << rx.error().message;
  ASSERT_EQ(rx->address()[0], '@');
  ASSERT_GT(rx->address().size(), 1u);
  auto other = NotifyReceiver::open();
  ASSERT_TRUE(other);
  EXPECT_NE(other->address(), rx->address());
  ::setenv("NOTIFY_SOCKET", rx->address().c_str(), 1);
  ASSERT_GT(sd_notify(0, "READY=1\nSTATUS=up"), 0);
  ::unsetenv("NOTIFY_SOCKET");
  auto got = rx->receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sender, ::getpid());
  EXPECT_EQ(notify_field(got[0].text, "READY"), "1");
  EXPECT_TRUE(rx->receive().empty());
}

config::Listener listener_at(const std::string& address, bool v6only = false) {
  config::Listener l;
  l.name = address;
  auto parsed = Endpoint::parse(address);
  EXPECT_TRUE(parsed) << address;
  if (parsed) l.address = *parsed;
  l.v6only = v6only;
  return l;
}

TEST(MasterSockets, ListenerKeyTellsV6onlyApartForIpv6Only) {
  EXPECT_EQ(listener_key(listener_at("127.0.0.1:443")), "127.0.0.1:443");
  EXPECT_EQ(listener_key(listener_at("127.0.0.1:443", true)), "127.0.0.1:443");
  EXPECT_NE(listener_key(listener_at("[::1]:443", true)), listener_key(listener_at("[::1]:443")));
}

// A port free on 127.0.0.1 now (port 0 is not a listener address).
std::string free_address(const char* ip) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  ::inet_pton(AF_INET, ip, &sa.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return std::string(ip) + ":" + std::to_string(ntohs(sa.sin_port));
}

std::uint16_t port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&ss))->port;
}

// One socket per thread, grown but never shrunk (closing one would reset
// the clients queued in it); a listener a config drops is let go.
TEST(MasterSockets, OnePerThreadGrownNeverShrunkAndDroppedWithItsListener) {
  config::Config one;
  one.listeners = {listener_at(free_address("127.0.0.1"))};
  MasterSockets sockets;
  auto prepared = sockets.prepare(one, 2);
  ASSERT_TRUE(prepared) << prepared.error().message;
  auto passed = sockets.for_config(one);
  ASSERT_EQ(passed.size(), 2u);
  EXPECT_EQ(passed[0].name, "listener");
  const int first = passed[0].fd;
  ASSERT_TRUE(sockets.prepare(one, 3));
  passed = sockets.for_config(one);
  ASSERT_EQ(passed.size(), 3u);
  EXPECT_EQ(passed[0].fd, first);  // the same sockets, one more
  ASSERT_TRUE(sockets.prepare(one, 1));
  EXPECT_EQ(sockets.for_config(one).size(), 3u);

  config::Config two = one;
  two.listeners.push_back(listener_at(free_address("127.0.0.2")));
  two.admin = config::Admin{};
  two.admin->listen = *Endpoint::parse(free_address("127.0.0.1"));
  ASSERT_TRUE(sockets.prepare(two, 1));
  passed = sockets.for_config(two);
  ASSERT_EQ(passed.size(), 5u);  // 3 + 1 + admin
  EXPECT_EQ(passed.back().name, "admin");
  EXPECT_GT(port_of(passed.back().fd), 0);

  config::Config second_only;
  second_only.listeners = {two.listeners[1]};
  sockets.keep_only(second_only);
  EXPECT_EQ(sockets.for_config(one).size(), 0u);
  EXPECT_EQ(sockets.for_config(second_only).size(), 1u);
  EXPECT_EQ(::fcntl(first, F_GETFD), -1) << "the dropped listener's socket is still open";
}

// systemd's socket is a listener's only one, whatever the thread count: it
// is not SO_REUSEPORT, so nothing could be bound beside it.
TEST(MasterSockets, SystemdsSocketIsTheListenersOnlyOne) {
  config::Config c;
  c.listeners = {listener_at(free_address("127.0.0.1"))};
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  const auto len = c.listeners[0].address.to_sockaddr(ss);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  std::vector<PassedSocket> passed(1);
  passed[0].fd.reset(fd);
  passed[0].address = c.listeners[0].address;
  passed[0].name = "tls";
  MasterSockets sockets;
  sockets.adopt(std::move(passed));
  auto first = sockets.prepare(c, 2);
  ASSERT_TRUE(first) << first.error().message;
  auto again = sockets.prepare(c, 4);  // a later generation with more threads
  ASSERT_TRUE(again) << again.error().message;
  const auto given = sockets.for_config(c);
  ASSERT_EQ(given.size(), 1u);
  EXPECT_EQ(given[0].fd, fd);
  EXPECT_TRUE(sockets.take_unused_systemd().empty());
}

int socket_type(int fd) {
  int type = 0;
  socklen_t len = sizeof type;
  ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
  return type;
}

// A quic listener gets one UDP socket whatever the thread count (one worker
// thread reads it), apart from the TCP sockets of a TLS listener on the same
// address and port.
TEST(MasterSockets, AQuicListenerHasOneUdpSocketBesideTheTcpOnes) {
  config::Config c;
  c.listeners = {listener_at(free_address("127.0.0.1"))};
  c.listeners.push_back(c.listeners[0]);
  c.listeners[1].protocol = config::Protocol::quic;
  EXPECT_NE(listener_key(c.listeners[0]), listener_key(c.listeners[1]));
  MasterSockets sockets;
  auto prepared = sockets.prepare(c, 2);
  ASSERT_TRUE(prepared) << prepared.error().message;
  ASSERT_TRUE(sockets.prepare(c, 3));
  const auto given = sockets.for_config(c);
  ASSERT_EQ(given.size(), 4u);  // 3 TCP + 1 UDP
  EXPECT_EQ(socket_type(given[0].fd), SOCK_STREAM);
  EXPECT_EQ(socket_type(given[3].fd), SOCK_DGRAM);
  EXPECT_EQ(given[3].name, "listener");
  EXPECT_EQ(port_of(given[3].fd), c.listeners[1].address.port);
}

// systemd's ListenDatagram= socket is a quic listener's, not a TLS one's.
TEST(MasterSockets, SystemdsDatagramSocketGoesToTheQuicListener) {
  config::Config c;
  c.listeners = {listener_at(free_address("127.0.0.1"))};
  c.listeners[0].protocol = config::Protocol::quic;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  const auto len = c.listeners[0].address.to_sockaddr(ss);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&ss), len), 0);
  std::vector<PassedSocket> passed(1);
  passed[0].fd.reset(fd);
  passed[0].address = c.listeners[0].address;
  passed[0].name = "quic";
  passed[0].type = SOCK_DGRAM;
  MasterSockets sockets;
  sockets.adopt(std::move(passed));
  ASSERT_TRUE(sockets.prepare(c, 2));
  const auto given = sockets.for_config(c);
  ASSERT_EQ(given.size(), 1u);
  EXPECT_EQ(given[0].fd, fd);
  EXPECT_TRUE(sockets.take_unused_systemd().empty());
}

TEST(MasterSockets, ABindErrorNamesTheListener) {
  config::Config c;
  c.listeners = {listener_at("192.0.2.1:443")};  // not an address of this host
  c.listeners[0].name = "public";
  MasterSockets sockets;
  auto r = sockets.prepare(c, 1);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("listener public:"), std::string::npos) << r.error().message;
}

TEST(SelfBinary, AFileRenamedOverThePathIsAReplacement) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("sniproxy-self-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "sniproxy";
  std::ofstream(path) << "old";
  SelfBinary self = SelfBinary::of(path.string());
  EXPECT_FALSE(self.replaced());
  std::ofstream(dir / "new") << "new binary";
  std::filesystem::rename(dir / "new", path);
  EXPECT_TRUE(self.replaced());
  self.note();
  EXPECT_FALSE(self.replaced());
  std::filesystem::remove(path);
  EXPECT_TRUE(self.replaced());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sniproxy::app
