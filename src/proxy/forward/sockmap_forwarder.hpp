#pragma once
// Sockmap forwarding: both sockets are in the BPF sockhash and the kernel
// moves the bytes (bpf_c/sockmap.bpf.c); userspace only watches.
//
// The direction keeps one wake-up armed on its source socket: a poll for
// POLLIN | POLLRDHUP. It fires for the three things userspace must act on,
// and also once for redirected bytes: the verdict's data_ready wakes the
// socket's waiters with POLLIN though the bytes left (io_uring reports that
// mask as it is). After such a wake-up the poll waits for POLLRDHUP and
// errors only, so it does not wake per skb and still sees the end at once;
// the periodic looks find passed bytes then. What it must act on:
//  - bytes the verdict passed because the direction reached its memory
//    bound (the peer stopped reading): take them, send them to the peer
//    once the kernel's queue for it is flushed, report them as consumed,
//    and hand the direction back to the kernel when the peer has drained
//    (the duties in src/bpf/sockmap/sockmap_flow.hpp);
//  - end of stream (POLLRDHUP): once every received byte is in the peer's
//    TCP stream, the peer is shut down for writing, so the FIN follows the
//    last byte;
//  - a reset or error (POLLERR/POLLHUP): reset both peers.
// Waiting for the kernel (its queue for the peer to flush, the peer to
// drain) is a worker timer with a growing backoff, never a busy loop; after
// the end of stream the first waits are reactor timeouts from 25 us
// (doubling), so the FIN follows the last byte within microseconds.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "bpf/sockmap/sockmap_flow.hpp"
#include "proxy/forward/forwarder.hpp"
#include "proxy/forward/sockmap_session.hpp"

namespace sniproxy::proxy::forward {

class SockmapForwarder final : public Forwarder {
 public:
  // `already_seen`: bytes of this direction the kernel forwards that are not
  // activity after the start (the peeked hello).
  SockmapForwarder(Host& host, std::shared_ptr<SockmapSession> session, bpf::Direction direction,
                   int from, int to, std::uint64_t queue_cap, std::uint64_t already_seen);
  ~SockmapForwarder() override;
  [[nodiscard]] Mode mode() const override { return Mode::sockmap; }
  void start() override;
  void on_complete(Side side, const reactor::Event& event) override;
  void resume() override {}
  void stop() override;
  [[nodiscard]] std::uint64_t bytes_moved() const override;
  bool moved_unseen() override;

 private:
  void wait();
  void recheck_later();
  void look_later(std::chrono::microseconds delay);
  // What one step read and did.
  struct Look {
    bool at_eof = false;  // the source showed POLLRDHUP or POLLHUP before the counts
    bool fin = false;     // POLLRDHUP: the FIN is in the source's received count
    bpf::DirectionCounts counts;
    bool forwarded_known = false;  // counts.forwarded was read
    bool progressed = false;       // passed bytes moved, or the direction handed back
  };

  // One look at the direction, in parts. A part that ends the step (true
  // from source_failed() and untrimmed_overlap(), false or an empty optional
  // from the others) has already acted: aborted or failed the connection, or
  // arranged the next look itself.
  // `seen`: what the poll that woke it reported, when that is the socket's
  // state (else a zero-timeout poll looks).
  void step(bool woken, std::optional<short> seen = std::nullopt);
  bool source_failed(short revents);  // POLLERR with SO_ERROR set
  bool read_counters(Look& look);
  bool untrimmed_overlap(const bpf::ForwardState& state);
  bool move_passed_bytes(Look& look);  // a bounded number of runs
  bool slide_limit(Look& look);
  void schedule_next_look(const Look& look);
  // One run of passed bytes: peek, send (all of it, over as many steps as
  // the peer needs), then report and take.
  bool move_passed_run(const bpf::ForwardState& state, bpf::ForwardControl& control);
  [[nodiscard]] std::uint64_t held_bound() const;
  std::optional<std::size_t> passed_readable();
  std::optional<std::size_t> peek_passed(std::size_t want);
  // Sends passed_[from, to); what was sent (less: the peer is full).
  std::optional<std::size_t> send_to_peer(std::size_t from, std::size_t to);
  bool report_and_take(const bpf::ForwardState& state, bpf::ForwardControl& control,
                       std::size_t sent);
  void finish(const Look& look);
  void cancel_timer();

  Host& host_;
  std::shared_ptr<SockmapSession> session_;
  bpf::Direction direction_;
  int from_;
  int to_;
  std::uint64_t queue_cap_;
  bool poll_armed_ = false;
  bool ends_only_ = false;               // the poll waits for POLLRDHUP and errors, not POLLIN
  bool eof_timer_ = false;               // the source slot holds a short timeout after the end
  std::chrono::microseconds eof_delay_;  // its next length (from kFirstEofRecheck, doubling)
  bool peer_full_ = false;               // a POLLOUT on the peer is armed
  bool eof_ = false;                     // the FIN was carried to the peer
  reactor::TimerQueue::Id timer_ = 0;
  reactor::Clock::time_point timer_due_{};
  std::chrono::milliseconds wait_delay_{1};       // backoff while waiting on the kernel
  std::chrono::microseconds look_delay_{10'000};  // between looks at the bound
  std::uint64_t redirected_seen_ = 0;             // state.redirected at the last look
  reactor::Clock::time_point last_look_{};
  std::uint64_t kernel_seen_ = 0;           // state.redirected at the last moved_unseen()
  std::unique_ptr<std::uint8_t[]> passed_;  // one run of passed bytes, while it moves
  std::size_t passed_size_ = 0;
  std::size_t held_peeked_ = 0;     // of the run at the source's head: in passed_
  std::size_t held_sent_ = 0;       // of those: already sent to the peer
  std::uint64_t passed_bytes_ = 0;  // moved through userspace
  std::uint64_t final_bytes_ = 0;   // forwarded: at the end of stream, or read at stop()
  bool stopped_ = false;
};

}  // namespace sniproxy::proxy::forward
