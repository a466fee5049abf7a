#pragma once
// Least privilege: the proxy binds its listeners and loads its BPF programs
// with the privileges it was started with, then switches to [process] user
// and group before any worker thread exists, keeping only the capabilities
// the running proxy still uses. Capabilities are per thread, so the workers
// inherit exactly the main thread's set.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "config/config.hpp"

namespace sniproxy::app {

struct Account {
  std::string user;
  uid_t uid = 0;
  std::string group;
  gid_t gid = 0;
};

// What start-up will do with its credentials, decided before anything is
// bound so that a refusal leaves nothing behind.
struct PrivilegePlan {
  std::optional<Account> switch_to;  // nullopt: keep the current credentials
  bool stay_root = false;            // root with allow_root and no user
};

// The refusals: root without a user (unless allow_root), an unknown user or
// group, or another user without CAP_SETUID/CAP_SETGID.
Result<PrivilegePlan> plan_privileges(const config::Process& process);

// Capability bits the running proxy still needs with `config`.
std::uint64_t capabilities_needed(const config::Config& config);
// "cap_net_admin,cap_bpf", or "none".
std::string capability_names(std::uint64_t mask);

// Switches to `account` keeping exactly `keep` (permitted and effective,
// nothing inheritable or ambient), then proves that the switch cannot be
// undone. On error the process must exit: it may be half switched.
Result<bool> drop_privileges(const Account& account, std::uint64_t keep);

// The effective and permitted sets of the calling thread.
struct CapabilitySets {
  std::uint64_t effective = 0;
  std::uint64_t permitted = 0;
};
std::optional<CapabilitySets> current_capabilities();

}  // namespace sniproxy::app
