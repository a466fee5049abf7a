#pragma once
// What the worker threads serving quic listeners share (docs/quic.md, "Every
// worker thread"): who owns which connection ID, each thread's inbox for
// datagrams another thread received for it, the process-wide session count
// that [quic] max_sessions bounds, and each thread's sessions for /status.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "proxy/quic/cid_directory.hpp"
#include "proxy/quic/datagram_inbox.hpp"

namespace sniproxy::proxy::quic {

class QuicThreads {
 public:
  // Datagrams queued for one thread at most (a burst of a rebound client's
  // datagrams while the owner is busy); more are lost, counted.
  static constexpr std::size_t kInboxCapacity = 4'096;

  // `threads`: how many workers serve the quic listeners (1 when one
  // socket is shared: socket activation, the master, the fast path).
  explicit QuicThreads(unsigned threads);

  [[nodiscard]] unsigned threads() const { return threads_; }
  CidDirectory& cids() { return cids_; }
  DatagramInbox& inbox(unsigned worker) { return *slots_[worker]->inbox; }
  // Set by each thread's service before any thread runs: wakes its worker.
  void set_waker(unsigned worker, std::function<void()> wake);
  void wake(unsigned worker) { slots_[worker]->wake(); }

  // A session (or a routed flow waiting for DNS, which is to become one)
  // takes a slot of [quic] max_sessions, process-wide; false at `max`.
  bool take_session_slot(std::size_t max);
  void give_session_slots(std::size_t n = 1);

  // True once: the first session socket whose buffer fell short, of all
  // threads (the one log line about it).
  bool first_short_session_socket() { return !short_session_logged_.exchange(true); }

  // Sessions of each thread now, for /status.
  void set_thread_sessions(unsigned worker, std::size_t n);
  [[nodiscard]] std::vector<std::uint64_t> thread_sessions() const;

 private:
  struct Slot {
    std::unique_ptr<DatagramInbox> inbox = std::make_unique<DatagramInbox>(kInboxCapacity);
    std::function<void()> wake = [] {};
    std::atomic<std::uint64_t> sessions{0};
  };
  unsigned threads_;
  CidDirectory cids_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::atomic<std::size_t> session_slots_{0};
  std::atomic<bool> short_session_logged_{false};
};

}  // namespace sniproxy::proxy::quic
