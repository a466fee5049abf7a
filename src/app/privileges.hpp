#pragma once
// Least privilege: the proxy binds its listeners and loads its BPF programs
// with the privileges it was started with (root, or a user holding ambient
// capabilities as in the packaged unit), then, before any thread of its own
// exists, switches to [process] user and group if asked and reduces the
// capabilities to what the running proxy still uses. Capabilities are per
// thread, so every thread started later inherits exactly the main thread's
// reduced set.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

// Capability bits the running proxy still needs with `config`; `held`: the
// permitted set now, where the config leaves a choice between two.
std::uint64_t capabilities_needed(const config::Config& config, std::uint64_t held);
// "cap_net_admin,cap_bpf", or "none".
std::string capability_names(std::uint64_t mask);

// Switches to `account` keeping exactly `keep` (permitted and effective,
// nothing inheritable or ambient, the bounding set trimmed to it), then
// proves that the switch cannot be undone. On error the process must exit:
// it may be half switched.
Result<bool> drop_privileges(const Account& account, std::uint64_t keep);

// Without a switch: reduces the calling thread to `keep` as far as it holds
// it (effective = permitted = keep & permitted; inheritable and ambient
// empty; bounding set trimmed when CAP_SETPCAP allows) and sets
// no_new_privs, so an exec cannot regain what was dropped. Returns what was
// kept.
Result<std::uint64_t> reduce_capabilities(std::uint64_t keep);

// The account the process runs as now (for the privileges line).
Account current_account();

// The capability sets of the calling thread.
struct CapabilitySets {
  std::uint64_t effective = 0;
  std::uint64_t permitted = 0;
  std::uint64_t inheritable = 0;
};
std::optional<CapabilitySets> current_capabilities();

// Every task of this process (threads, io_uring workers) whose effective,
// permitted, inheritable or ambient set holds more than `keep`, as
// "TID(COMM)"; tasks that exit while being read are skipped.
std::vector<std::string> tasks_holding_more_than(std::uint64_t keep);

}  // namespace sniproxy::app
