#include "proxy/quic/quic_threads.hpp"

namespace sniproxy::proxy::quic {

QuicThreads::QuicThreads(unsigned threads) : threads_(threads == 0 ? 1 : threads) {
  for (unsigned i = 0; i < threads_; ++i) slots_.push_back(std::make_unique<Slot>());
}

void QuicThreads::set_waker(unsigned worker, std::function<void()> wake) {
  slots_[worker]->wake = std::move(wake);
}

bool QuicThreads::take_session_slot(std::size_t max) {
  std::size_t now = session_slots_.load(std::memory_order_relaxed);
  do {
    if (now >= max) return false;
  } while (!session_slots_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
  return true;
}

void QuicThreads::give_session_slots(std::size_t n) {
  session_slots_.fetch_sub(n, std::memory_order_relaxed);
}

void QuicThreads::set_thread_sessions(unsigned worker, std::size_t n) {
  slots_[worker]->sessions.store(n, std::memory_order_relaxed);
}

std::vector<std::uint64_t> QuicThreads::thread_sessions() const {
  std::vector<std::uint64_t> out;
  for (const auto& slot : slots_) out.push_back(slot->sessions.load(std::memory_order_relaxed));
  return out;
}

}  // namespace sniproxy::proxy::quic
