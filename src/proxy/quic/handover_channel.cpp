#include "proxy/quic/handover_channel.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "proxy/quic/handover_message.hpp"

namespace sniproxy::proxy::quic {

namespace {
// A handed message: the header and a datagram of up to 64 KiB.
constexpr std::size_t kMaxMessage = kHandoverHeader + 65'536;
// Read at the start of a drain; the rest comes through the reactor.
constexpr int kMaxQueuedRead = 4'096;
}  // namespace

HandoverOut::Sent HandoverOut::hand(const Endpoint& client, const Endpoint& local,
                                    std::span<const std::uint8_t> payload) {
  const auto message = encode_handed_datagram(client, local, payload);
  if (::send(fd_.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
    return Sent::handed;
  if (errno == EAGAIN || errno == ENOBUFS || errno == EINTR) return Sent::full;
  fd_.reset();  // EPIPE, ECONNREFUSED, ECONNRESET: no reader any more
  return Sent::ended;
}

bool HandoverOut::reader_gone() {
  if (!fd_) return true;
  pollfd p{fd_.get(), POLLOUT, 0};
  // A closed peer leaves a seqpacket socket shut down both ways: POLLHUP.
  if (::poll(&p, 1, 0) <= 0 || (p.revents & (POLLHUP | POLLERR)) == 0) return false;
  fd_.reset();
  return true;
}

std::vector<std::vector<std::uint8_t>> HandoverIn::read_queued() {
  std::vector<std::vector<std::uint8_t>> out;
  std::vector<std::uint8_t> buffer(kMaxMessage);
  for (int i = 0; i < kMaxQueuedRead && fd_; ++i) {
    const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n <= 0) break;  // nothing more now (or no sender left)
    out.emplace_back(buffer.begin(), buffer.begin() + n);
  }
  return out;
}

void HandoverIn::arm(reactor::Reactor& reactor) {
  if (!fd_ || closing_) return;
  reactor_ = &reactor;
  reactor.recvmsg_multishot(fd_.get(), this);
  armed_ = true;
}

void HandoverIn::close(reactor::Reactor& reactor) {
  closing_ = true;
  if (armed_)
    reactor.cancel(this);  // closed when the receive ends
  else
    fd_.reset();
}

void HandoverIn::on_complete(const reactor::Event& event) {
  if (!event.more) armed_ = false;
  if (event.res > 0 && reactor_ != nullptr && !closing_)
    if (auto d = reactor_->datagram(event); d && !d->truncated) on_message_(d->payload);
  if (event.buffer >= 0 && reactor_ != nullptr)
    reactor_->buffers().recycle(static_cast<std::uint16_t>(event.buffer));
  if (armed_) return;
  // No buffer free, or the kernel ended the multishot: armed again by
  // rearm() from the next sweep, not at once (an error that repeats must
  // not spin the loop).
  if (!closing_ && (event.res >= 0 || event.res == -ENOBUFS)) return;
  // Closed on purpose, or the channel failed: no more hand-over.
  closing_ = true;
  fd_.reset();
}

void HandoverIn::rearm(reactor::Reactor& reactor) {
  if (!armed_ && reactor_ != nullptr) arm(reactor);
}

}  // namespace sniproxy::proxy::quic
