#include "app/privileges.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "config/source_address.hpp"
#include "proxy/runtime.hpp"

namespace sniproxy::app {

namespace {

constexpr std::uint64_t bit(int capability) {
  return std::uint64_t{1} << capability;
}

// The names `capability_names` knows: what the proxy keeps at most, and
// what the packaged unit grants.
constexpr std::array<std::pair<int, std::string_view>, 9> kNames{{
    {CAP_NET_BIND_SERVICE, "cap_net_bind_service"},
    {CAP_NET_ADMIN, "cap_net_admin"},
    {CAP_NET_RAW, "cap_net_raw"},
    {CAP_SETGID, "cap_setgid"},
    {CAP_SETUID, "cap_setuid"},
    {CAP_SETPCAP, "cap_setpcap"},
    {CAP_SYS_RESOURCE, "cap_sys_resource"},
    {CAP_BPF, "cap_bpf"},
    {CAP_PERFMON, "cap_perfmon"},
}};

// Before Linux 6.5, kernel.unprivileged_bpf_disabled (set by default on
// Debian) gated every bpf(2) command behind CAP_BPF, map updates through
// descriptors already open included; from 6.5 on only creating maps and
// loading programs need it.
bool bpf_commands_gated() {
  utsname name{};
  unsigned major = 0;
  unsigned minor = 0;
  if (::uname(&name) != 0) return true;
  std::istringstream release(name.release);  // "6.18.44-...": major, '.', minor
  char dot = 0;
  if (!(release >> major >> dot >> minor) || dot != '.') return true;
  if (major > 6 || (major == 6 && minor >= 5)) return false;
  std::ifstream sysctl("/proc/sys/kernel/unprivileged_bpf_disabled");
  int disabled = 0;
  return sysctl >> disabled && disabled != 0;
}

// getpwnam_r/getgrnam_r with a buffer that grows when the entry is large.
template <class Entry, class Lookup>
std::optional<Entry> lookup(Lookup fn, const std::string& name, std::vector<char>& storage) {
  Entry entry{};
  Entry* found = nullptr;
  storage.resize(1024);
  for (;;) {
    const int rc = fn(name.c_str(), &entry, storage.data(), storage.size(), &found);
    if (rc == ERANGE && storage.size() < (1U << 20)) {
      storage.resize(storage.size() * 2);
      continue;
    }
    if (rc != 0 || found == nullptr) return std::nullopt;
    return entry;
  }
}

std::string group_name(gid_t gid) {
  std::vector<char> storage(1024);
  group entry{};
  group* found = nullptr;
  if (getgrgid_r(gid, &entry, storage.data(), storage.size(), &found) == 0 && found != nullptr)
    return entry.gr_name;
  return std::to_string(gid);
}

Result<Account> find_account(const config::Process& process) {
  std::vector<char> storage;
  auto user = lookup<passwd>(getpwnam_r, process.user, storage);
  if (!user)
    return make_error(fmt::format(
        "[process] user '{}' does not exist on this system: create it (adduser --system --group "
        "--no-create-home --home /nonexistent {}) or name an existing user",
        process.user, process.user));
  Account account{process.user, user->pw_uid, "", user->pw_gid};
  if (process.group.empty()) {
    account.group = group_name(account.gid);
    return account;
  }
  auto group_entry = lookup<group>(getgrnam_r, process.group, storage);
  if (!group_entry)
    return make_error(fmt::format(
        "[process] group '{}' does not exist on this system: create it (addgroup --system {}), "
        "name an existing group, or leave group out to use the primary group of user '{}'",
        process.group, process.group, process.user));
  account.group = process.group;
  account.gid = group_entry->gr_gid;
  return account;
}

// Raw capget/capset rather than libcap: the drop runs while the main thread
// is the only thread, so per-thread capset is all it takes, and libcap's
// cap_set_proc is per thread too (its all-threads mode needs libpsx wrapping
// pthread_create). A dependency would buy only the name table.
bool read_capabilities(__user_cap_data_struct (&data)[_LINUX_CAPABILITY_U32S_3]) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  return ::syscall(SYS_capget, &header, data) == 0;
}

// Bits not in `keep` leave the bounding set, so that not even an exec of a
// file with capabilities gets them back. Needs CAP_SETPCAP; false without.
bool trim_bounding_set(std::uint64_t keep) {
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    if ((keep & bit(cap)) != 0) continue;
    if (::prctl(PR_CAPBSET_READ, static_cast<unsigned long>(cap), 0L, 0L, 0L) != 1) continue;
    if (::prctl(PR_CAPBSET_DROP, static_cast<unsigned long>(cap), 0L, 0L, 0L) != 0) return false;
  }
  return true;
}

bool write_capabilities(std::uint64_t keep) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    const auto word = static_cast<std::uint32_t>(keep >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = 0;
  }
  return ::syscall(SYS_capset, &header, data) == 0;
}

// Keeps the permitted set across setuid() away from root for as long as it
// lives; the flag would otherwise outlive the switch.
class KeepCapabilitiesWhileSwitching {
 public:
  KeepCapabilitiesWhileSwitching() : ok_(::prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) == 0) {}
  ~KeepCapabilitiesWhileSwitching() { ::prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L); }
  KeepCapabilitiesWhileSwitching(const KeepCapabilitiesWhileSwitching&) = delete;
  KeepCapabilitiesWhileSwitching& operator=(const KeepCapabilitiesWhileSwitching&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }

 private:
  bool ok_;
};

Error system_error(std::string_view what, const Account& account) {
  return make_error(fmt::format("cannot switch to user {} (uid {}) group {} (gid {}): {}: {}",
                                account.user, account.uid, account.group, account.gid, what,
                                std::strerror(errno)));
}

}  // namespace

Result<PrivilegePlan> plan_privileges(const config::Process& process) {
  const bool root = ::geteuid() == 0;
  if (process.user.empty()) {
    if (root && !process.allow_root)
      return make_error(
          "refusing to run as root without [process] user (set user = \"sniproxy\", or "
          "allow_root = true to run as root anyway)");
    return PrivilegePlan{std::nullopt, root};
  }
  auto account = find_account(process);
  if (!account) return account.error();
  if (root) return PrivilegePlan{*account, false};
  // Already that user: nothing to switch; the capabilities are still
  // reduced (reduce_capabilities).
  if (::geteuid() == account->uid && ::getegid() == account->gid && ::getuid() == account->uid &&
      ::getgid() == account->gid)
    return PrivilegePlan{std::nullopt, false};
  // Not root: a switch needs CAP_SETUID and CAP_SETGID (e.g. from systemd's
  // AmbientCapabilities).
  const auto caps = current_capabilities();
  std::vector<std::string> missing;
  if (!caps || (caps->effective & bit(CAP_SETUID)) == 0) missing.emplace_back("CAP_SETUID");
  if (!caps || (caps->effective & bit(CAP_SETGID)) == 0) missing.emplace_back("CAP_SETGID");
  if (!missing.empty())
    return make_error(fmt::format(
        "cannot switch to [process] user {} (uid {}) group {} (gid {}): running as uid {} without "
        "{}; start sniproxy as root, or as that user, or remove user from [process]",
        account->user, account->uid, account->group, account->gid, ::geteuid(),
        fmt::join(missing, " and ")));
  return PrivilegePlan{*account, false};
}

std::uint64_t capabilities_needed(const config::Config& config, std::uint64_t held) {
  // Detaching the XDP program at exit is an RTM_SETLINK, which needs
  // CAP_NET_ADMIN; reloads write the filter's maps through descriptors the
  // proxy already holds, which needs none. Everything else (accept, connect,
  // copy, splice, the sockmap's and the DNS mirror's map updates, reading
  // the retransmit tracer's perf buffer) needs no capability at all, except
  // on kernels that gate every bpf(2) command (bpf_commands_gated).
  // The QUIC fast path's classifier is detached at exit the same way (a tcx
  // or netlink detach), and its session entries are map writes.
  std::uint64_t keep = config.xdp || config.quic.fast_path ? bit(CAP_NET_ADMIN) : 0;
  const bool writes_maps =
      config.xdp || proxy::uses_sockmap(config) || config.dns.bpf_mirror || config.quic.fast_path;
  if (writes_maps && bpf_commands_gated()) keep |= bit(CAP_BPF);
  // source_address = "client": IP_TRANSPARENT on every upstream socket,
  // which CAP_NET_RAW or CAP_NET_ADMIN allows. CAP_NET_RAW, as HAProxy
  // keeps, is the narrower grant: raw sockets rather than reconfiguring
  // the host's interfaces, routes and firewall. CAP_NET_ADMIN only when it
  // is held and CAP_NET_RAW is not (a unit granting it already); neither:
  // nothing to keep, and the start-up check says what to grant.
  if (config::uses_client_source(config) && (keep & bit(CAP_NET_ADMIN)) == 0) {
    if ((held & bit(CAP_NET_RAW)) != 0)
      keep |= bit(CAP_NET_RAW);
    else if ((held & bit(CAP_NET_ADMIN)) != 0)
      keep |= bit(CAP_NET_ADMIN);
  }
  return keep;
}

std::string capability_names(std::uint64_t mask) {
  std::vector<std::string> names;
  for (int cap = 0; cap < 64; ++cap) {
    if ((mask & bit(cap)) == 0) continue;
    std::string name = fmt::format("cap_{}", cap);
    for (const auto& [number, known] : kNames)
      if (number == cap) name = std::string(known);
    names.push_back(std::move(name));
  }
  return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ","));
}

Result<bool> drop_privileges(const Account& account, std::uint64_t keep) {
  // Root holds CAP_SETPCAP until the switch: trim the bounding set first.
  if (!trim_bounding_set(keep)) return system_error("prctl(PR_CAPBSET_DROP)", account);
  {
    KeepCapabilitiesWhileSwitching keep_caps;
    if (!keep_caps.ok()) return system_error("prctl(PR_SET_KEEPCAPS)", account);
    // Supplementary groups first: after setuid there is no CAP_SETGID left.
    if (::initgroups(account.user.c_str(), account.gid) != 0)
      return system_error("initgroups", account);
    // glibc applies setresgid/setresuid to every thread of the process.
    if (::setresgid(account.gid, account.gid, account.gid) != 0)
      return system_error("setresgid", account);
    if (::setresuid(account.uid, account.uid, account.uid) != 0)
      return system_error("setresuid", account);
  }
  if (!write_capabilities(keep)) return system_error("capset", account);
  // Ambient capabilities would survive an exec; the proxy never wants that.
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0)
    return system_error("prctl(PR_SET_NO_NEW_PRIVS)", account);
  if (account.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0))
    return make_error("privileges could be regained after switching user (setuid(0) succeeded)");
  if (account.gid != 0 && (::setgid(0) == 0 || ::setegid(0) == 0))
    return make_error("privileges could be regained after switching group (setgid(0) succeeded)");
  const auto caps = current_capabilities();
  if (!caps || caps->effective != keep || caps->permitted != keep)
    return make_error(fmt::format("capabilities after the switch are not {} as intended",
                                  capability_names(keep)));
  return true;
}

Result<std::uint64_t> reduce_capabilities(std::uint64_t keep) {
  const auto before = current_capabilities();
  if (!before) return make_error(fmt::format("capget: {}", std::strerror(errno)));
  // Permitted can only shrink: what was never held cannot be kept.
  keep &= before->permitted;
  // Without CAP_SETPCAP (the packaged unit grants none) the bounding set
  // stays as systemd's CapabilityBoundingSet left it; no_new_privs below
  // and the empty inheritable set keep an exec from using it.
  if ((before->effective & bit(CAP_SETPCAP)) != 0 && !trim_bounding_set(keep))
    return make_error(fmt::format("prctl(PR_CAPBSET_DROP): {}", std::strerror(errno)));
  if (!write_capabilities(keep)) return make_error(fmt::format("capset: {}", std::strerror(errno)));
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0)
    return make_error(fmt::format("prctl(PR_SET_NO_NEW_PRIVS): {}", std::strerror(errno)));
  const auto after = current_capabilities();
  if (!after || after->effective != keep || after->permitted != keep || after->inheritable != 0)
    return make_error(
        fmt::format("capabilities are not {} as intended after capset", capability_names(keep)));
  return keep;
}

Account current_account() {
  Account account{std::to_string(::getuid()), ::getuid(), "", ::getgid()};
  std::vector<char> storage(1024);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(account.uid, &entry, storage.data(), storage.size(), &found) == 0 &&
      found != nullptr)
    account.user = entry.pw_name;
  account.group = group_name(account.gid);
  return account;
}

std::optional<CapabilitySets> current_capabilities() {
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (!read_capabilities(data)) return std::nullopt;
  CapabilitySets sets;
  for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; ++i) {
    sets.effective |= static_cast<std::uint64_t>(data[i].effective) << (32 * i);
    sets.permitted |= static_cast<std::uint64_t>(data[i].permitted) << (32 * i);
    sets.inheritable |= static_cast<std::uint64_t>(data[i].inheritable) << (32 * i);
  }
  return sets;
}

std::vector<std::string> tasks_holding_more_than(std::uint64_t keep) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream status(task.path() / "status");
    std::string comm;
    std::uint64_t held = 0;
    bool read = false;
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("Name:", 0) == 0) comm = line.substr(line.find_first_not_of(" \t", 5));
      for (const char* key : {"CapInh:", "CapPrm:", "CapEff:", "CapAmb:"}) {
        if (line.rfind(key, 0) != 0) continue;
        held |= std::stoull(line.substr(std::strlen(key)), nullptr, 16);
        read = true;
      }
    }
    // A task that exits between the listing and the read has nothing left.
    if (read && (held & ~keep) != 0)
      out.push_back(fmt::format("{}({})", task.path().filename().string(), comm));
  }
  return out;
}

}  // namespace sniproxy::app
