#include "bpf/sockmap/slot_table.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "shared_types.h"

namespace sniproxy::bpf {
namespace {

// The verdict writes with plain stores of aligned words, which are atomic;
// these say so on this side, and order the cookie after the fields it owns.
template <typename T>
T load(const T& field) {
  return __atomic_load_n(&field, __ATOMIC_ACQUIRE);
}

template <typename T>
void store(T& field, T value) {
  __atomic_store_n(&field, value, __ATOMIC_RELEASE);
}

}  // namespace

Result<std::unique_ptr<SlotTable>> SlotTable::map(int array_fd, std::uint32_t slots) {
  // An mmapable array keeps its values contiguous, each rounded up to 8
  // bytes (the struct's size already is), from offset 0 of the mapping.
  static_assert(sizeof(sniproxy_sockmap_slot) % 8 == 0);
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t bytes =
      (static_cast<std::size_t>(slots) * sizeof(sniproxy_sockmap_slot) + page - 1) / page * page;
  void* mapped = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, array_fd, 0);
  if (mapped == MAP_FAILED) {
    return make_error(
        fmt::format("sockmap: cannot map the slot array into memory ({}): the "
                    "kernel needs BPF_F_MMAPABLE arrays (5.5 or later)",
                    std::strerror(errno)));
  }
  return std::unique_ptr<SlotTable>(
      new SlotTable(static_cast<sniproxy_sockmap_slot*>(mapped), bytes, slots));
}

SlotTable::SlotTable(sniproxy_sockmap_slot* slots, std::size_t mapped_bytes, std::uint32_t count)
    : slots_(slots), mapped_bytes_(mapped_bytes) {
  for (std::uint32_t i = 0; i < count; ++i) free_.push_back(i);
}

SlotTable::~SlotTable() {
  ::munmap(slots_, mapped_bytes_);
}

std::optional<std::uint32_t> SlotTable::take(std::uint64_t cookie, std::uint64_t limit) {
  std::uint32_t index = 0;
  {
    std::lock_guard lock(free_lock_);
    if (free_.empty()) return std::nullopt;
    index = free_.front();
    free_.pop_front();
  }
  sniproxy_sockmap_slot& slot = slots_[index];
  // No verdict writes a free slot; the insert that follows (bpf() calls)
  // publishes these stores before the verdict can find the slot.
  std::memset(&slot.state, 0, sizeof slot.state);
  store(slot.control.limit, static_cast<__u64>(limit));
  store(slot.control.consumed, static_cast<__u64>(0));
  store(slot.cookie, static_cast<__u64>(cookie));
  return index;
}

void SlotTable::give_back(std::uint32_t slot, std::uint64_t cookie) {
  std::lock_guard lock(free_lock_);
  if (load(slots_[slot].cookie) != cookie) return;
  store(slots_[slot].cookie, static_cast<__u64>(0));
  free_.push_back(slot);
}

bool SlotTable::owned_by(std::uint32_t slot, std::uint64_t cookie) const {
  return load(slots_[slot].cookie) == cookie;
}

ForwardState SlotTable::state(std::uint32_t slot) const {
  const sniproxy_sockmap_state& s = slots_[slot].state;
  return ForwardState{load(s.redirected), load(s.passed),    load(s.unpaired),
                      load(s.trimmed),    load(s.untrimmed), load(s.over) != 0};
}

ForwardControl SlotTable::control(std::uint32_t slot) const {
  const sniproxy_sockmap_control& c = slots_[slot].control;
  return ForwardControl{load(c.limit), load(c.consumed)};
}

void SlotTable::set_control(std::uint32_t slot, const ForwardControl& control) {
  sniproxy_sockmap_control& c = slots_[slot].control;
  store(c.limit, static_cast<__u64>(control.limit));
  store(c.consumed, static_cast<__u64>(control.consumed));
}

}  // namespace sniproxy::bpf
