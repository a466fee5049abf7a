#pragma once
// The sockmap's per-socket slots (sockmap_slots in bpf_c/sockmap.bpf.c): the
// verdict's state and userspace's control of one inserted socket, in a BPF
// array mapped into this process (BPF_F_MMAPABLE). Reading the counters and
// moving the limit are memory accesses, not bpf() calls: each side writes
// only its own fields, in place, so neither overwrites the other's.
//
// Slots are handed out and taken back here. A slot names its socket (the
// cookie): the verdict writes a slot only while it names the socket being
// judged, and a freed slot goes to the back of the queue, so a verdict that
// looked a slot up just before its pair was removed does not find it handed
// to another socket already. Thread-safe: the queue has a lock, and each
// slot's fields are read and written with atomic accesses.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include "bpf/sockmap/sockmap_flow.hpp"
#include "common/result.hpp"

struct sniproxy_sockmap_slot;

namespace sniproxy::bpf {

class SlotTable {
 public:
  // Maps the array `array_fd` of `slots` entries (read and write, shared).
  static Result<std::unique_ptr<SlotTable>> map(int array_fd, std::uint32_t slots);
  ~SlotTable();
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;

  // A free slot for socket `cookie`, its state zeroed and its control
  // {limit, 0}; none when every slot is taken.
  std::optional<std::uint32_t> take(std::uint64_t cookie, std::uint64_t limit);
  // Frees `slot` if it still names `cookie` (so a second call does nothing).
  void give_back(std::uint32_t slot, std::uint64_t cookie);
  [[nodiscard]] bool owned_by(std::uint32_t slot, std::uint64_t cookie) const;

  [[nodiscard]] ForwardState state(std::uint32_t slot) const;
  [[nodiscard]] ForwardControl control(std::uint32_t slot) const;
  void set_control(std::uint32_t slot, const ForwardControl& control);

 private:
  SlotTable(sniproxy_sockmap_slot* slots, std::size_t mapped_bytes, std::uint32_t count);

  sniproxy_sockmap_slot* slots_;
  std::size_t mapped_bytes_;
  std::mutex free_lock_;
  std::deque<std::uint32_t> free_;  // oldest freed first
};

}  // namespace sniproxy::bpf
