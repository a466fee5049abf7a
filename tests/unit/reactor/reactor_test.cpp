// The reactor's operations against real loopback sockets, through the
// factory the workers use, once per backend: io_uring and epoll deliver the
// same completions.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/unique_fd.hpp"
#include "reactor/backend.hpp"
#include "reactor/reactor.hpp"
#include "reactor_fixture.hpp"

namespace sniproxy::reactor {
namespace {

using namespace std::chrono_literals;

using test::Recorder;

class ReactorTest : public test::ReactorFixture {
 protected:
  static UniqueFd tcp_listener(sockaddr_in& address, int backlog = 16) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof address;
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), len), 0);
    EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &len), 0);
    EXPECT_EQ(::listen(fd.get(), backlog), 0);
    return fd;
  }

  static UniqueFd blocking_client(const sockaddr_in& to) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to), 0);
    return fd;
  }

  // A connected pair: a client and the server side accepted from it.
  std::pair<UniqueFd, UniqueFd> tcp_pair() {
    sockaddr_in address{};
    UniqueFd listener = tcp_listener(address);
    UniqueFd client = blocking_client(address);
    UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    return {std::move(client), std::move(server)};
  }
};

TEST_P(ReactorTest, NamesItsBackend) {
  EXPECT_EQ(reactor_->backend_name(), to_string(GetParam()));
}

TEST_P(ReactorTest, MultishotAcceptDeliversEveryClientUntilCancelled) {
  sockaddr_in address{};
  UniqueFd listener = tcp_listener(address);
  Recorder accepts;
  reactor_->accept_multishot(listener.get(), &accepts);
  std::vector<UniqueFd> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(blocking_client(address));
  ASSERT_TRUE(run_until([&] { return accepts.events.size() >= 3; }));
  for (const Event& e : accepts.events) {
    EXPECT_GE(e.res, 0);
    EXPECT_TRUE(e.more);
    UniqueFd accepted(e.res);
    EXPECT_NE(::fcntl(accepted.get(), F_GETFL) & O_NONBLOCK, 0);
  }
  reactor_->cancel(&accepts);
  ASSERT_TRUE(run_until([&] { return !accepts.events.back().more; }));
  EXPECT_EQ(accepts.events.back().res, -ECANCELED);
}

TEST_P(ReactorTest, PooledReceiveNamesItsBufferAndSendIsWhole) {
  auto [client, server] = tcp_pair();
  const std::string message = "hello through the reactor";
  Recorder sent;
  reactor_->send(client.get(),
                 {reinterpret_cast<const std::uint8_t*>(message.data()), message.size()}, &sent);
  Recorder received;
  const auto free_before = reactor_->buffers().available();
  reactor_->recv_pooled(server.get(), &received);
  ASSERT_TRUE(run_until([&] { return !sent.events.empty() && !received.events.empty(); }));
  EXPECT_EQ(sent.events[0].res, static_cast<int>(message.size()));
  const Event& got = received.events[0];
  ASSERT_EQ(got.res, static_cast<int>(message.size()));
  ASSERT_GE(got.buffer, 0);
  EXPECT_EQ(reactor_->buffers().available(), free_before - 1);
  auto bytes = reactor_->buffers().buffer(static_cast<std::uint16_t>(got.buffer));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), message.size()), message);
  reactor_->buffers().recycle(static_cast<std::uint16_t>(got.buffer));
  EXPECT_EQ(reactor_->buffers().available(), free_before);
}

TEST_P(ReactorTest, PlainReceiveFillsTheCallersMemoryAndSeesEndOfStream) {
  auto [client, server] = tcp_pair();
  ASSERT_EQ(::send(client.get(), "abc", 3, 0), 3);
  client.reset();
  std::vector<std::uint8_t> into(16);
  Recorder first;
  reactor_->recv(server.get(), into, &first);
  ASSERT_TRUE(run_until([&] { return !first.events.empty(); }));
  EXPECT_EQ(first.events[0].res, 3);
  EXPECT_EQ(first.events[0].buffer, -1);
  EXPECT_EQ(std::memcmp(into.data(), "abc", 3), 0);
  Recorder eof;
  reactor_->recv(server.get(), into, &eof);
  ASSERT_TRUE(run_until([&] { return !eof.events.empty(); }));
  EXPECT_EQ(eof.events[0].res, 0);
}

TEST_P(ReactorTest, ConnectSucceedsIsRefusedOrTimesOut) {
  sockaddr_in address{};
  // Backlog 0 takes one connection; the next SYN is dropped, so its connect
  // hangs until the timeout.
  UniqueFd listener = tcp_listener(address, 0);
  UniqueFd ok(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  Recorder connected;
  reactor_->connect(ok.get(), reinterpret_cast<sockaddr*>(&address), sizeof address, 2s,
                    &connected);
  ASSERT_TRUE(run_until([&] { return !connected.events.empty(); }));
  EXPECT_EQ(connected.events[0].res, 0);

  UniqueFd late(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  Recorder timed_out;
  const auto started = std::chrono::steady_clock::now();
  reactor_->connect(late.get(), reinterpret_cast<sockaddr*>(&address), sizeof address, 150ms,
                    &timed_out);
  ASSERT_TRUE(run_until([&] { return !timed_out.events.empty(); }));
  EXPECT_EQ(timed_out.events[0].res, -ECANCELED);
  EXPECT_GE(std::chrono::steady_clock::now() - started, 140ms);

  listener.reset();  // nothing listens on the port now
  UniqueFd refused(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  Recorder refusal;
  reactor_->connect(refused.get(), reinterpret_cast<sockaddr*>(&address), sizeof address, 2s,
                    &refusal);
  ASSERT_TRUE(run_until([&] { return !refusal.events.empty(); }));
  EXPECT_EQ(refusal.events[0].res, -ECONNREFUSED);
}

TEST_P(ReactorTest, PollReportsReadinessTimesOutAndCanBeRemoved) {
  auto [client, server] = tcp_pair();
  Recorder idle;
  reactor_->poll(server.get(), POLLIN, 50ms, &idle);
  ASSERT_TRUE(run_until([&] { return !idle.events.empty(); }));
  EXPECT_EQ(idle.events[0].res, -ECANCELED);

  Recorder removed;
  reactor_->poll(server.get(), POLLIN, &removed);
  reactor_->run_once(0ms);
  reactor_->poll_remove(&removed);
  ASSERT_TRUE(run_until([&] { return !removed.events.empty(); }));
  EXPECT_EQ(removed.events[0].res, -ECANCELED);

  Recorder ready;
  reactor_->poll(server.get(), POLLIN | POLLRDHUP, 2s, &ready);
  ASSERT_EQ(::send(client.get(), "x", 1, 0), 1);
  ASSERT_TRUE(run_until([&] { return !ready.events.empty(); }));
  EXPECT_NE(ready.events[0].res & POLLIN, 0);
}

TEST_P(ReactorTest, TimeoutFiresOrIsCancelled) {
  Recorder fired;
  reactor_->timeout(20ms, &fired);
  ASSERT_TRUE(run_until([&] { return !fired.events.empty(); }));
  EXPECT_EQ(fired.events[0].res, -ETIME);

  Recorder cancelled;
  reactor_->timeout(10s, &cancelled);
  reactor_->run_once(0ms);
  reactor_->cancel(&cancelled);
  ASSERT_TRUE(run_until([&] { return !cancelled.events.empty(); }));
  EXPECT_EQ(cancelled.events[0].res, -ECANCELED);
}

TEST_P(ReactorTest, CancellingAnFdEndsEveryOperationOnIt) {
  auto [client, server] = tcp_pair();
  Recorder reading;
  Recorder polling;
  reactor_->recv_pooled(server.get(), &reading);
  reactor_->poll(server.get(), POLLIN, &polling);
  reactor_->run_once(0ms);
  reactor_->cancel_fd(server.get());
  ASSERT_TRUE(run_until([&] { return !reading.events.empty() && !polling.events.empty(); }));
  EXPECT_EQ(reading.events[0].res, -ECANCELED);
  EXPECT_EQ(polling.events[0].res, -ECANCELED);
}

TEST_P(ReactorTest, ReadsAnEventfd) {
  UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::uint64_t value = 0;
  Recorder read;
  reactor_->read(fd.get(), {reinterpret_cast<std::uint8_t*>(&value), sizeof value}, &read);
  const std::uint64_t seven = 7;
  ASSERT_EQ(::write(fd.get(), &seven, sizeof seven), static_cast<ssize_t>(sizeof seven));
  ASSERT_TRUE(run_until([&] { return !read.events.empty(); }));
  EXPECT_EQ(read.events[0].res, static_cast<int>(sizeof value));
  EXPECT_EQ(value, 7u);
}

TEST_P(ReactorTest, DatagramsArriveWithTheirPeerAndGoOutBySendmsg) {
  auto udp = [] {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  };
  auto port_of = [](int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return a;
  };
  UniqueFd listener = udp();
  UniqueFd peer = udp();
  const sockaddr_in listener_address = port_of(listener.get());
  const sockaddr_in peer_address = port_of(peer.get());

  Recorder received;
  reactor_->recvmsg_multishot(listener.get(), &received);
  std::vector<std::string> messages = {"first datagram", "second"};
  std::vector<Recorder> sends(messages.size());
  std::vector<iovec> iov(messages.size());
  std::vector<msghdr> headers(messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    iov[i] = {messages[i].data(), messages[i].size()};
    headers[i].msg_name = const_cast<sockaddr_in*>(&listener_address);
    headers[i].msg_namelen = sizeof listener_address;
    headers[i].msg_iov = &iov[i];
    headers[i].msg_iovlen = 1;
    reactor_->sendmsg(peer.get(), &headers[i], &sends[i]);
  }
  ASSERT_TRUE(run_until([&] { return received.events.size() >= 2; }));
  for (std::size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(sends[i].events.at(0).res, static_cast<int>(messages[i].size()));
    const Event& e = received.events[i];
    EXPECT_TRUE(e.more);
    auto d = reactor_->datagram(e);
    ASSERT_TRUE(d);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(d->payload.data()), d->payload.size()),
              messages[i]);
    EXPECT_FALSE(d->truncated);
    ASSERT_EQ(d->peer.ss_family, AF_INET);
    EXPECT_EQ(reinterpret_cast<const sockaddr_in*>(&d->peer)->sin_port, peer_address.sin_port);
    reactor_->buffers().recycle(static_cast<std::uint16_t>(e.buffer));
  }
  reactor_->cancel(&received);
  ASSERT_TRUE(run_until([&] { return !received.events.back().more; }));
  EXPECT_FALSE(reactor_->datagram(received.events.back()));
}

TEST_P(ReactorTest, NothingCompletesInsideTheCallThatStartedIt) {
  auto [client, server] = tcp_pair();
  Recorder sent;
  const std::uint8_t byte = 'x';
  reactor_->send(client.get(), {&byte, 1}, &sent);
  EXPECT_TRUE(sent.events.empty());
  ASSERT_TRUE(run_until([&] { return !sent.events.empty(); }));
  EXPECT_EQ(sent.events[0].res, 1);
}

TEST_P(ReactorTest, APooledReceiveWithEveryBufferHeldEndsWithNoBuffers) {
  auto [client, server] = tcp_pair();
  std::vector<std::uint16_t> held;
  for (std::uint32_t i = 0; i < 8; ++i) {
    ASSERT_EQ(::send(client.get(), "y", 1, 0), 1);
    Recorder r;
    reactor_->recv_pooled(server.get(), &r);
    ASSERT_TRUE(run_until([&] { return !r.events.empty(); }));
    ASSERT_GE(r.events[0].buffer, 0);
    held.push_back(static_cast<std::uint16_t>(r.events[0].buffer));
  }
  EXPECT_EQ(reactor_->buffers().available(), 0u);
  ASSERT_EQ(::send(client.get(), "z", 1, 0), 1);
  Recorder starved;
  reactor_->recv_pooled(server.get(), &starved);
  ASSERT_TRUE(run_until([&] { return !starved.events.empty(); }));
  EXPECT_EQ(starved.events[0].res, -ENOBUFS);
  for (auto id : held) reactor_->buffers().recycle(id);
  Recorder fed;
  reactor_->recv_pooled(server.get(), &fed);
  ASSERT_TRUE(run_until([&] { return !fed.events.empty(); }));
  EXPECT_EQ(fed.events[0].res, 1);
  reactor_->buffers().recycle(static_cast<std::uint16_t>(fed.events[0].buffer));
}

TEST_P(ReactorTest, ReceiveAndSendOnOneSocketWaitSideBySide) {
  // (Not a structured binding: the lambda below uses `client`, which
  // clang 14 does not let a lambda capture.)
  auto pair = tcp_pair();
  UniqueFd& client = pair.first;
  UniqueFd& server = pair.second;
  // Fill the server's send path so its send must wait for room, while a
  // receive waits on the same socket for the client's bytes.
  int small = 4096;
  ASSERT_EQ(::setsockopt(server.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  std::vector<std::uint8_t> block(1 << 16, 0xab);
  while (::send(server.get(), block.data(), block.size(), MSG_DONTWAIT) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  Recorder sending;
  reactor_->send(server.get(), block, &sending);
  std::vector<std::uint8_t> into(16);
  Recorder receiving;
  reactor_->recv(server.get(), into, &receiving);
  reactor_->run_once(0ms);
  ASSERT_EQ(::send(client.get(), "ping", 4, 0), 4);
  ASSERT_TRUE(run_until([&] { return !receiving.events.empty(); }));
  EXPECT_EQ(receiving.events[0].res, 4);
  // Draining the client lets the send finish (whole or short).
  std::vector<std::uint8_t> sink(1 << 16);
  ASSERT_TRUE(run_until([&] {
    while (::recv(client.get(), sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
    }
    return !sending.events.empty();
  }));
  EXPECT_GT(sending.events[0].res, 0);
}

TEST_P(ReactorTest, ADescriptorNumberClosedAndReusedIsWaitedOnAfresh) {
  // The proxy cancels a socket's operations, closes it, and the next socket
  // it makes often gets the same number: that one must still be waited on.
  for (int round = 0; round < 3; ++round) {
    auto [client, server] = tcp_pair();
    const int number = server.get();
    Recorder pending;
    reactor_->recv_pooled(server.get(), &pending);
    reactor_->run_once(0ms);
    reactor_->cancel_fd(server.get());
    ASSERT_TRUE(run_until([&] { return !pending.events.empty(); }));
    server.reset();
    client.reset();
    auto [client2, server2] = tcp_pair();
    if (server2.get() != number && client2.get() != number) continue;
    const int reused = server2.get() == number ? server2.get() : client2.get();
    const int other = reused == server2.get() ? client2.get() : server2.get();
    Recorder fresh;
    reactor_->recv_pooled(reused, &fresh);
    ASSERT_EQ(::send(other, "n", 1, 0), 1);
    ASSERT_TRUE(run_until([&] { return !fresh.events.empty(); })) << "round " << round;
    EXPECT_EQ(fresh.events[0].res, 1);
    reactor_->buffers().recycle(static_cast<std::uint16_t>(fresh.events[0].buffer));
  }
}

TEST_P(ReactorTest, AConnectRetriedFromItsTimeoutOnTheSameNumberCompletes) {
  // As a pool's failover does: inside the completion of a timed-out
  // connect, the socket is closed and the next attempt's socket (here forced
  // onto the same number) connects elsewhere. It must complete.
  sockaddr_in full{};
  UniqueFd crowded = tcp_listener(full, 0);
  UniqueFd queued = blocking_client(full);  // takes the one backlog slot
  sockaddr_in good{};
  UniqueFd good_listener = tcp_listener(good);

  struct Retry final : Completion {
    Reactor* reactor = nullptr;
    UniqueFd* socket = nullptr;
    sockaddr_in to{};
    std::vector<Event> events;
    bool retried = false;
    void on_complete(const Event& event) override {
      events.push_back(event);
      if (retried) return;
      retried = true;
      const int number = socket->get();
      socket->reset();
      UniqueFd next(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (next.get() != number) {
        ASSERT_EQ(::dup3(next.get(), number, O_CLOEXEC), number);
        next.reset(number);
      }
      *socket = std::move(next);
      reactor->connect(socket->get(), reinterpret_cast<sockaddr*>(&to), sizeof to, 2s, this);
    }
  } retry;
  UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  retry.reactor = reactor_.get();
  retry.socket = &socket;
  retry.to = good;
  reactor_->connect(socket.get(), reinterpret_cast<sockaddr*>(&full), sizeof full, 100ms, &retry);
  ASSERT_TRUE(run_until([&] { return retry.events.size() >= 2; }));
  EXPECT_EQ(retry.events[0].res, -ECANCELED);
  EXPECT_EQ(retry.events[1].res, 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReactorTest,
                         ::testing::Values(BackendKind::io_uring, BackendKind::epoll),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace sniproxy::reactor
