#pragma once
// One active health check in flight, as a small state machine over a
// non-blocking socket: connect, then (tls_hello) send a ClientHello and read
// the first byte back. The HealthChecker polls its fd and its deadline.
#include <cstdint>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/unique_fd.hpp"
#include "upstream/time.hpp"

namespace sniproxy::proxy {

class HealthProbe {
 public:
  // Starts the connect to `to`. `hello`: bytes to send once connected, after
  // which a TLS record must come back; empty for a plain tcp check. The
  // probe may be done already (a refused connect, no descriptor...).
  HealthProbe(const Endpoint& to, std::vector<std::uint8_t> hello, upstream::TimePoint deadline);

  [[nodiscard]] bool done() const { return phase_ == Phase::done; }
  [[nodiscard]] bool ok() const { return ok_; }                        // once done
  [[nodiscard]] const std::string& detail() const { return detail_; }  // once done
  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] short events() const;  // for poll(2), while not done
  [[nodiscard]] upstream::TimePoint deadline() const { return deadline_; }

  void on_ready();    // poll reported the fd ready, in error or hung up
  void on_timeout();  // the deadline passed first

 private:
  enum class Phase : std::uint8_t { connecting, sending, receiving, done };

  void connected();
  void send_hello();
  void receive();
  void finish(bool ok, std::string detail);

  UniqueFd fd_;
  std::vector<std::uint8_t> hello_;
  std::size_t sent_ = 0;
  upstream::TimePoint deadline_;
  Phase phase_ = Phase::connecting;
  bool ok_ = false;
  std::string detail_;
};

}  // namespace sniproxy::proxy
