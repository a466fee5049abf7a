#include "bulk_traffic.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "support/netns.hpp"

namespace sniproxy::retrans_test {
namespace {

// Filled before any fork: the child must not allocate (the parent has
// other threads, whose malloc locks a forked child would inherit).
std::vector<char>& send_buffer(std::size_t size) {
  static std::vector<char> buffer;
  if (buffer.size() < size) buffer.assign(size, 'x');
  return buffer;
}

std::int64_t monotonic_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// The child: async-signal-safe calls only, then _exit.
[[noreturn]] void run_sender_child(int report_fd, const char* comm, const sockaddr_storage& to,
                                   socklen_t to_len, std::int64_t duration_ms, const char* data,
                                   std::size_t write_size) {
  // The name first: connect(2) records the socket's owner with it.
  ::prctl(PR_SET_NAME, comm, 0, 0, 0);
  int fd = ::socket(to.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&to), to_len) != 0) _exit(2);
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len);
  if (::write(report_fd, &local, sizeof local) != static_cast<ssize_t>(sizeof local)) _exit(3);
  ::close(report_fd);
  const std::int64_t end = monotonic_ms() + duration_ms;
  while (monotonic_ms() < end) {
    if (::send(fd, data, write_size, MSG_NOSIGNAL) < 0 && errno != EINTR) _exit(4);
  }
  ::close(fd);
  _exit(0);
}

}  // namespace

Receiver::Receiver(const std::string& ns, std::string_view address) {
  auto ip = IpAddress::parse(address);
  if (!ip) {
    error_ = "bad address";
    return;
  }
  std::string in_ns = integration::run_in(ns, [&] {
    // Created in the namespace, the socket stays there whichever thread uses it.
    Endpoint any{*ip, 0};
    sockaddr_storage storage{};
    unsigned len = any.to_sockaddr(storage);
    listener_.reset(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener_ || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&storage), len) != 0 ||
        ::listen(listener_.get(), 16) != 0) {
      error_ = std::string("receiver socket: ") + std::strerror(errno);
      return;
    }
    socklen_t bound_len = sizeof storage;
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&storage), &bound_len);
    endpoint_ = *Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&storage));
  });
  if (!in_ns.empty()) error_ = in_ns;
  if (error_.empty()) acceptor_ = std::thread([this] { accept_loop(); });
}

Receiver::~Receiver() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& reader : readers_) reader.join();
}

void Receiver::accept_loop() {
  while (!stop_) {
    // Bounded waits, so the destructor's stop flag is seen promptly.
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    UniqueFd connection(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (connection) {
      readers_.emplace_back(
          [this, c = std::move(connection)]() mutable { read_loop(std::move(c)); });
    }
  }
}

void Receiver::read_loop(UniqueFd connection) {
  std::vector<char> buffer(256 * 1024);
  while (!stop_) {
    pollfd p{connection.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(connection.get(), buffer.data(), buffer.size(), 0);
    if (n <= 0) {
      if (n == 0) ++finished_;
      return;
    }
    bytes_ += static_cast<std::uint64_t>(n);
  }
}

bool Receiver::wait_finished(int count, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (finished_ < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

Sender start_sender(const std::string& ns, const std::string& comm, const Endpoint& to,
                    std::chrono::milliseconds duration, std::size_t write_size,
                    std::string& error) {
  Sender sender;
  sender.comm = comm;
  const char* data = send_buffer(write_size).data();
  sockaddr_storage target{};
  const socklen_t target_len = to.to_sockaddr(target);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    error = std::string("pipe: ") + std::strerror(errno);
    return sender;
  }
  UniqueFd read_end(report[0]), write_end(report[1]);
  std::string in_ns = integration::run_in(ns, [&] {
    // fork() copies this thread's network namespace into the child.
    sender.pid = ::fork();
    if (sender.pid == 0) {
      run_sender_child(write_end.get(), comm.c_str(), target, target_len, duration.count(), data,
                       write_size);
    }
  });
  write_end.reset();
  if (!in_ns.empty() || sender.pid < 0) {
    error = in_ns.empty() ? std::string("fork: ") + std::strerror(errno) : in_ns;
    sender.pid = -1;
    return sender;
  }
  sockaddr_storage local{};
  pollfd p{read_end.get(), POLLIN, 0};
  if (::poll(&p, 1, 10'000) != 1 ||
      ::read(read_end.get(), &local, sizeof local) != static_cast<ssize_t>(sizeof local)) {
    error = "sender " + comm + " did not connect";
    ::kill(sender.pid, SIGKILL);
    ::waitpid(sender.pid, nullptr, 0);
    sender.pid = -1;
    return sender;
  }
  sender.local = *Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&local));
  return sender;
}

bool wait_sender(const Sender& sender, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(sender.pid, &status, WNOHANG);
    if (r == sender.pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (r < 0) return false;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(sender.pid, SIGKILL);
      ::waitpid(sender.pid, &status, 0);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace sniproxy::retrans_test
