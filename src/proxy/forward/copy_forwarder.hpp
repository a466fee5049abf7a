#pragma once
// Copy forwarding: receive into a pool buffer, send it all, then the next
// receive. One operation per slot in flight: no reordering, and at most one
// buffer held per direction, so a slow peer stops us reading (TCP
// backpressure) instead of growing memory.
#include <cstdint>
#include <vector>

#include "proxy/forward/forwarder.hpp"

namespace sniproxy::proxy::forward {

struct CopyOptions {
  // Sent to the peer before anything read (the PROXY header, and the hello
  // that was only peeked and then taken off the source).
  std::vector<std::uint8_t> preamble;
  // How much of the preamble came from the source (counts as moved).
  std::uint64_t preamble_from_source = 0;
  // auto mode: hand the direction to splice once it has carried this many
  // bytes (0: never) and its last `splice_after_full_reads` receives each
  // filled a whole buffer (it streams).
  std::uint64_t splice_after = 0;
  std::uint32_t splice_after_full_reads = 0;
};

class CopyForwarder final : public Forwarder {
 public:
  CopyForwarder(Host& host, int from, int to, CopyOptions options);
  [[nodiscard]] Mode mode() const override { return Mode::copy; }
  void start() override;
  void on_complete(Side side, const reactor::Event& event) override;
  void resume() override;
  Rest come_to_rest() override;
  void stop() override;
  [[nodiscard]] std::uint64_t bytes_moved() const override { return bytes_; }

 private:
  void arm_recv();
  void arm_send();
  void on_recv(const reactor::Event& event);
  void on_sent(const reactor::Event& event);
  void send_now();
  void sent_all();
  void release_buffer();
  // The receive ended without bytes (cancelled to rest, or no buffer free).
  void received_nothing(int res);

  Host& host_;
  int from_;
  int to_;
  CopyOptions options_;
  const std::uint8_t* data_ = nullptr;  // what is being sent
  std::size_t offset_ = 0;
  std::size_t length_ = 0;
  int buffer_ = -1;  // the pool buffer held, or -1
  std::uint64_t bytes_ = 0;
  std::uint32_t full_reads_ = 0;            // receives in a row that filled a whole buffer
  reactor::Completion* recv_op_ = nullptr;  // the receive in flight, or null
  bool sending_ = false;                    // a send in flight
  bool stopped_ = false;
};

}  // namespace sniproxy::proxy::forward
