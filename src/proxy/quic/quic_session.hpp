#pragma once
// One routed QUIC session: the client (listener and address), the backend,
// and a connected UDP socket of its own toward the backend whose datagrams
// a multishot receive brings back. Datagrams pass unchanged both ways; the
// session counts them and, at its end, writes one access-log line. The
// QuicService owns it and tells it what to send; where the packets flow
// (here, or in the kernel fast path: session_fast_path.hpp) is the
// service's business.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/address.hpp"
#include "common/unique_fd.hpp"
#include "observe/access_log.hpp"
#include "proxy/quic/session_table.hpp"
#include "proxy/runtime.hpp"
#include "reactor/reactor.hpp"

namespace sniproxy::proxy::quic {

class QuicService;

class QuicSession final : public reactor::Completion {
 public:
  QuicSession(QuicService& service, SessionId id, std::shared_ptr<const Runtime> runtime,
              std::size_t listener, UniqueFd backend_fd, Endpoint backend, std::string server_name,
              std::optional<std::uint64_t> member_id);

  // Starts receiving the backend's datagrams.
  void start(reactor::Reactor& reactor);
  // Sends a client datagram on to the backend; false if the socket refused
  // it (a full send buffer: lost, as on the network).
  bool send_to_backend(std::span<const std::uint8_t> datagram);
  // A datagram of the backend that went back to the client.
  void count_to_client(std::size_t bytes) {
    bytes_out_ += bytes;
    ++packets_out_;
  }
  // Stops the receive; the service frees the session once it has ended
  // (ended() is true). Returns the session's access record.
  observe::AccessRecord close(reactor::Reactor& reactor, const Endpoint& client,
                              observe::Outcome outcome, std::string detail);
  [[nodiscard]] bool ended() const { return closing_ && !receiving_; }

  [[nodiscard]] SessionId id() const { return id_; }
  [[nodiscard]] std::size_t listener() const { return listener_; }
  [[nodiscard]] const Runtime& runtime() const { return *runtime_; }
  [[nodiscard]] std::optional<std::uint64_t> member_id() const { return member_id_; }
  [[nodiscard]] bool closing() const { return closing_; }
  [[nodiscard]] const Endpoint& backend() const { return backend_; }
  // The backend socket's own address (what the backend replies to).
  [[nodiscard]] std::optional<Endpoint> local_address() const;

  void on_complete(const reactor::Event& event) override;

 private:
  QuicService& service_;
  SessionId id_;
  std::shared_ptr<const Runtime> runtime_;  // the config it was routed with
  std::size_t listener_;
  UniqueFd backend_fd_;
  Endpoint backend_;
  std::string server_name_;
  std::optional<std::uint64_t> member_id_;
  std::chrono::steady_clock::time_point started_;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  std::uint64_t packets_in_ = 0;
  std::uint64_t packets_out_ = 0;
  bool receiving_ = false;  // the multishot receive is in flight
  bool closing_ = false;
};

}  // namespace sniproxy::proxy::quic
