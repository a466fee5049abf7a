#include "app/notify_receiver.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

namespace sniproxy::app {

Result<NotifyReceiver> NotifyReceiver::open() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(fmt::format("notify socket: {}", std::strerror(errno)));
  // Autobind: the kernel picks an abstract name no other socket of this
  // network namespace has (a fixed one could collide with another master's,
  // such as a container's pid 1 beside another container's).
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(sa_family_t)) != 0)
    return make_error(fmt::format("notify socket: bind: {}", std::strerror(errno)));
  socklen_t length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    return make_error(fmt::format("notify socket: getsockname: {}", std::strerror(errno)));
  const auto name_length = length - offsetof(sockaddr_un, sun_path);
  if (name_length < 2 || address.sun_path[0] != '\0')
    return make_error("notify socket: the kernel gave no abstract name");
  int one = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0)
    return make_error(fmt::format("notify socket: SO_PASSCRED: {}", std::strerror(errno)));
  return NotifyReceiver(std::move(fd), "@" + std::string(address.sun_path + 1, name_length - 1));
}

std::vector<NotifyReceiver::Message> NotifyReceiver::receive() {
  std::vector<Message> messages;
  for (;;) {
    std::array<char, 4096> text{};
    iovec iov{text.data(), text.size()};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(ucred))> control{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return messages;  // EAGAIN: all read
    }
    Message m;
    m.text.assign(text.data(), static_cast<std::size_t>(n));
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred{};
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        m.sender = cred.pid;
      }
    }
    messages.push_back(std::move(m));
  }
}

std::optional<std::string> notify_field(std::string_view message, std::string_view key) {
  while (!message.empty()) {
    const auto end = message.find('\n');
    const std::string_view line = message.substr(0, end);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == '=')
      return std::string(line.substr(key.size() + 1));
    if (end == std::string_view::npos) break;
    message.remove_prefix(end + 1);
  }
  return std::nullopt;
}

}  // namespace sniproxy::app
