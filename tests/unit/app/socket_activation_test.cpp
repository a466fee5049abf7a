// Matching the sockets systemd passed to the config's listeners.
#include "app/socket_activation.hpp"

#include <sys/eventfd.h>

#include <gtest/gtest.h>

namespace sniproxy::app {
namespace {

PassedSocket passed(const char* address, const char* name, int type = SOCK_STREAM) {
  PassedSocket s;
  s.type = type;
  s.fd.reset(::eventfd(0, EFD_CLOEXEC));  // any descriptor will do here
  s.address = *Endpoint::parse(address);
  s.name = name;
  return s;
}

config::Listener listener(const char* address) {
  config::Listener l;
  l.address = *Endpoint::parse(address);
  return l;
}

config::Listener quic(const char* address) {
  config::Listener l = listener(address);
  l.protocol = config::Protocol::quic;
  return l;
}

TEST(SocketActivation, EachListenerTakesTheSocketWithItsAddress) {
  std::vector<PassedSocket> sockets;
  sockets.push_back(passed("[::]:443", "tls6"));
  sockets.push_back(passed("127.0.0.1:8080", "http"));
  sockets.push_back(passed("0.0.0.0:443", "tls4"));
  const int http_fd = sockets[1].fd.get();
  const int tls4_fd = sockets[2].fd.get();
  const std::vector<config::Listener> listeners = {
      listener("0.0.0.0:443"), listener("127.0.0.1:8080"), listener("127.0.0.1:9090")};

  auto matched = match_passed_sockets(sockets, listeners);
  ASSERT_EQ(matched.size(), 3u);
  ASSERT_EQ(matched[0].size(), 1u);
  EXPECT_EQ(matched[0][0].get(), tls4_fd);
  ASSERT_EQ(matched[1].size(), 1u);
  EXPECT_EQ(matched[1][0].get(), http_fd);
  EXPECT_TRUE(matched[2].empty());  // not passed: bound as usual
  // The one no listener has is left for the caller to report.
  ASSERT_EQ(sockets.size(), 1u);
  EXPECT_EQ(sockets[0].name, "tls6");
}

// TCP and UDP ports are apart: a quic listener on a TLS listener's address
// takes the passed UDP socket and leaves the stream socket to the TLS one.
TEST(SocketActivation, AQuicListenerTakesTheDatagramSocketOfItsAddress) {
  std::vector<PassedSocket> sockets;
  sockets.push_back(passed("127.0.0.1:443", "tls"));
  sockets.push_back(passed("127.0.0.1:443", "quic", SOCK_DGRAM));
  const int tls_fd = sockets[0].fd.get();
  const int quic_fd = sockets[1].fd.get();
  auto matched = match_passed_sockets(sockets, {quic("127.0.0.1:443"), listener("127.0.0.1:443")});
  ASSERT_EQ(matched.size(), 2u);
  ASSERT_EQ(matched[0].size(), 1u);
  EXPECT_EQ(matched[0][0].get(), quic_fd);
  ASSERT_EQ(matched[1].size(), 1u);
  EXPECT_EQ(matched[1][0].get(), tls_fd);
  EXPECT_TRUE(sockets.empty());
}

// A quic listener with only a stream socket on its address binds its own.
TEST(SocketActivation, AQuicListenerTakesNoStreamSocket) {
  std::vector<PassedSocket> sockets;
  sockets.push_back(passed("127.0.0.1:443", "tls"));
  auto matched = match_passed_sockets(sockets, {quic("127.0.0.1:443")});
  EXPECT_TRUE(matched[0].empty());
  EXPECT_EQ(sockets.size(), 1u);
}

// A socket of the wrong type on a listener's address, that no listener
// takes as it is, is a start-up error naming it and what was expected.
TEST(SocketActivation, ASocketOfTheWrongTypeIsAProblem) {
  std::vector<PassedSocket> stream;
  stream.push_back(passed("127.0.0.1:443", "web"));
  std::vector<config::Listener> only_quic = {quic("127.0.0.1:443")};
  only_quic[0].name = "h3";
  const std::string problem = passed_type_problem(stream, only_quic);
  EXPECT_NE(problem.find("(web) on 127.0.0.1:443 is a TCP (ListenStream=) socket"),
            std::string::npos)
      << problem;
  EXPECT_NE(problem.find("listener 'h3'"), std::string::npos) << problem;
  EXPECT_NE(problem.find("needs a ListenDatagram= socket"), std::string::npos) << problem;

  std::vector<PassedSocket> datagram;
  datagram.push_back(passed("127.0.0.1:443", "web", SOCK_DGRAM));
  const std::string tls_problem = passed_type_problem(datagram, {listener("127.0.0.1:443")});
  EXPECT_NE(tls_problem.find("needs a ListenStream= socket"), std::string::npos) << tls_problem;

  // Each fits a listener of its type (a TLS and a quic listener on one
  // port), or no listener has the address (logged as unused): no problem.
  EXPECT_EQ(passed_type_problem(stream, {quic("127.0.0.1:443"), listener("127.0.0.1:443")}), "");
  EXPECT_EQ(passed_type_problem(datagram, {quic("127.0.0.1:443"), listener("127.0.0.1:443")}), "");
  EXPECT_EQ(passed_type_problem(stream, {quic("127.0.0.1:8443")}), "");
}

TEST(SocketActivation, NothingPassedMatchesNothing) {
  std::vector<PassedSocket> none;
  auto matched = match_passed_sockets(none, {listener("0.0.0.0:443")});
  ASSERT_EQ(matched.size(), 1u);
  EXPECT_TRUE(matched[0].empty());
}

// The master passes one SO_REUSEPORT socket per worker thread: a listener
// takes every socket with its address, in the order passed.
TEST(SocketActivation, AListenerTakesEverySocketWithItsAddress) {
  std::vector<PassedSocket> sockets;
  sockets.push_back(passed("0.0.0.0:443", "listener"));
  sockets.push_back(passed("127.0.0.1:9000", "admin"));
  sockets.push_back(passed("0.0.0.0:443", "listener"));
  const int first = sockets[0].fd.get();
  const int second = sockets[2].fd.get();
  const int admin = sockets[1].fd.get();
  auto matched = match_passed_sockets(sockets, {listener("0.0.0.0:443")});
  ASSERT_EQ(matched[0].size(), 2u);
  EXPECT_EQ(matched[0][0].get(), first);
  EXPECT_EQ(matched[0][1].get(), second);
  UniqueFd taken = take_passed_socket(sockets, *Endpoint::parse("127.0.0.1:9000"));
  EXPECT_EQ(taken.get(), admin);
  EXPECT_TRUE(sockets.empty());
  EXPECT_FALSE(take_passed_socket(sockets, *Endpoint::parse("127.0.0.1:9000")));
}

TEST(SocketActivation, WithoutListenFdsThereAreNoSockets) {
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_PID");
  auto taken = take_passed_sockets();
  ASSERT_TRUE(taken) << taken.error().message;
  EXPECT_TRUE(taken->empty());
}

}  // namespace
}  // namespace sniproxy::app
