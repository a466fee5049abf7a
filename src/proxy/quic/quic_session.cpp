#include "proxy/quic/quic_session.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "proxy/quic/quic_service.hpp"

namespace sniproxy::proxy::quic {

QuicSession::QuicSession(QuicService& service, SessionId id, std::shared_ptr<const Runtime> runtime,
                         std::size_t listener, UniqueFd backend_fd, Endpoint backend,
                         std::string server_name, std::optional<std::uint64_t> member_id)
    : service_(service),
      id_(id),
      runtime_(std::move(runtime)),
      listener_(listener),
      backend_fd_(std::move(backend_fd)),
      backend_(backend),
      server_name_(std::move(server_name)),
      member_id_(member_id),
      started_(std::chrono::steady_clock::now()) {}

std::optional<Endpoint> QuicSession::local_address() const {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (::getsockname(backend_fd_.get(), reinterpret_cast<sockaddr*>(&local), &length) != 0)
    return std::nullopt;
  return Endpoint::from_sockaddr(reinterpret_cast<const sockaddr*>(&local));
}

void QuicSession::start(reactor::Reactor& reactor) {
  reactor.recvmsg_multishot(backend_fd_.get(), this);
  receiving_ = true;
}

bool QuicSession::send_to_backend(std::span<const std::uint8_t> datagram) {
  // One non-blocking send per datagram: a UDP send does not wait, and a
  // datagram it cannot take is lost as the network would lose it.
  const ssize_t n =
      ::send(backend_fd_.get(), datagram.data(), datagram.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) return false;
  bytes_in_ += datagram.size();
  ++packets_in_;
  return true;
}

observe::AccessRecord QuicSession::close(reactor::Reactor& reactor, const Endpoint& client,
                                         observe::Outcome outcome, std::string detail) {
  closing_ = true;
  if (receiving_) reactor.cancel(this);
  observe::AccessRecord r;
  r.client = client.to_string();
  r.listener = runtime_->config.listeners[listener_].name;
  r.server_name = server_name_;
  r.backend = backend_.to_string();
  r.bytes_in = bytes_in_;
  r.bytes_out = bytes_out_;
  r.datagrams = true;
  r.packets_in = packets_in_;
  r.packets_out = packets_out_;
  r.duration_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - started_)
                                                 .count());
  r.mode = "datagram";
  r.outcome = outcome;
  r.detail = std::move(detail);
  return r;
}

void QuicSession::on_complete(const reactor::Event& event) {
  if (!event.more) receiving_ = false;
  service_.on_backend_event(*this, event);
}

}  // namespace sniproxy::proxy::quic
