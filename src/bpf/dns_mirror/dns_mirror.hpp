#pragma once
// The DNS cache mirrored into a BPF LRU hash map named "sniproxy_dns", so
// that `bpftool map dump name sniproxy_dns` shows what the proxy has cached.
// The map is created with libbpf straight from the bpf(2) syscall, with BTF
// built in memory for its key and value: no BPF program and no BCC compile
// (that would cost ~0.7 s and ~60 MB at start-up). The userspace caches keep
// answering; the map is only a window on them, and the LRU is a backstop
// for removals the caches never see.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "dns/addresses.hpp"
#include "dns/cache_observer.hpp"

namespace sniproxy::bpf {

inline constexpr char kDnsMirrorMapName[] = "sniproxy_dns";
inline constexpr std::size_t kDnsMirrorAddresses = 8;  // more are left out of the mirror

// The map's key and value, laid out exactly as the BTF in dns_mirror.cpp
// describes them. Text rather than binary fields, because bpftool prints a
// char array as a string and a byte array as a list of numbers: an operator
// reads "2001:db8::1", not sixteen integers.
struct DnsMirrorKey {
  char name[256];        // the normalised name, NUL-terminated (DNS names are at most 253)
  std::uint32_t worker;  // each worker thread has its own cache
};
struct DnsMirrorValue {
  std::uint64_t expires_unix;               // seconds since the epoch, when the entry expires
  std::uint32_t count;                      // addresses cached (may exceed kDnsMirrorAddresses)
  std::uint32_t negative;                   // 1: a failure is cached; `error` says which
  char addresses[kDnsMirrorAddresses][46];  // INET6_ADDRSTRLEN each, in the order tried
  char error[64];
};
static_assert(sizeof(DnsMirrorKey) == 260);
static_assert(sizeof(DnsMirrorValue) == 448);

class DnsMirror {
 public:
  // The map, sized for `entries` (every worker's cache_size together).
  // Errors name why (no CAP_BPF, a kernel without BTF or LRU maps).
  static Result<std::unique_ptr<DnsMirror>> create(std::uint32_t entries);

  DnsMirror(const DnsMirror&) = delete;
  DnsMirror& operator=(const DnsMirror&) = delete;

  // An observer for worker `worker`'s cache writing into this map; the
  // mirror must outlive it. Writes through the map's descriptor need no
  // capability, so this keeps working after the proxy drops its privileges.
  std::unique_ptr<dns::CacheObserver> observer_for(std::uint32_t worker);

  void store(std::uint32_t worker, std::string_view name, const Result<dns::Addresses>& answer,
             std::chrono::steady_clock::time_point expires);
  void remove(std::uint32_t worker, std::string_view name);

  [[nodiscard]] int map_fd() const { return map_.get(); }
  [[nodiscard]] std::uint32_t map_id() const { return map_id_; }

  static DnsMirrorKey key_for(std::uint32_t worker, std::string_view name);

 private:
  DnsMirror(UniqueFd map, std::uint32_t map_id) : map_(std::move(map)), map_id_(map_id) {}

  UniqueFd map_;
  std::uint32_t map_id_;
};

}  // namespace sniproxy::bpf
