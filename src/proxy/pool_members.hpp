#pragma once
// The members of every pool of one loaded config, each with its health from
// the process-wide table (so a member that stays across a reload or a new
// DNS answer keeps its state). Built with the Runtime; a pool with
// DNS-named servers gets a new member list whenever an answer changes
// (PoolResolver publishes it). Read by the workers' balancers, the active
// checker, /status and /metrics.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "upstream/health_table.hpp"
#include "upstream/member.hpp"

namespace sniproxy::proxy {

// One pool's members at one moment, never changed once published.
struct MemberSnapshot {
  std::uint64_t version = 0;  // unique in the process: a reader rebuilds when it changes
  std::vector<upstream::Member> members;
  std::vector<std::shared_ptr<upstream::MemberHealth>> health;  // index-aligned with members
};

// Where one pool's current snapshot is published. Replaced whole by the
// resolving thread; readers load it without waiting on that thread: the
// version is one atomic word (a worker's pick compares it and loads the
// snapshot only when it changed), and the snapshot pointer an
// std::atomic<std::shared_ptr> whose internal lock is held only for the
// pointer copy.
class PublishedMembers {
 public:
  explicit PublishedMembers(const std::shared_ptr<const MemberSnapshot>& first);

  [[nodiscard]] std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  [[nodiscard]] std::shared_ptr<const MemberSnapshot> load() const { return current_.load(); }
  // The snapshot first, then its version: a reader that sees the new
  // version finds the new snapshot (or a newer one).
  void publish(std::shared_ptr<const MemberSnapshot> next);

 private:
  std::atomic<std::shared_ptr<const MemberSnapshot>> current_;
  std::atomic<std::uint64_t> version_;
};

struct PoolMembers {
  const config::Pool* pool = nullptr;  // in the Runtime's config
  // Shared so the Runtime stays read-only while its members change.
  std::shared_ptr<PublishedMembers> current;
};

// A fresh version number, unique in the process.
std::uint64_t next_member_version();

// The members of `pool` with `resolved` as the names' addresses, each with
// its health from `table`. `unchecked_until_checked`: a member new to the
// table, in a pool with active checks, takes no traffic until its first
// check passes (a reload's new servers, a new DNS answer's new addresses);
// at start-up every member starts up.
std::shared_ptr<const MemberSnapshot> member_snapshot(const config::Pool& pool,
                                                      const upstream::ResolvedHosts& resolved,
                                                      upstream::HealthTable& table,
                                                      bool unchecked_until_checked);

// Every pool of `config`: IP-literal servers are one member each, named
// servers one per address in `resolved` (the names' last answers, carried
// over a reload; none yet at start-up).
std::map<std::string, PoolMembers> pool_members(const config::Config& config,
                                                upstream::HealthTable& table, bool reloading,
                                                const upstream::ResolvedHosts& resolved = {});

// Whether any pool server is a DNS name (a resolving thread is needed).
bool has_named_servers(const config::Config& config);

}  // namespace sniproxy::proxy
