#pragma once
// The ids and capability sets of every task of a running proxy, read from
// /proc/PID/task/*/status, and launchers that start the proxy as nobody
// (with no capabilities, or with the packaged unit's as ambient), for the
// tests that check what each start path leaves every thread holding.
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>

namespace sniproxy::integration {

// The credential and capability lines of one task's status, as written
// there ("0000000000001000" for CapEff, "N\tN\tN\tN" for Uid).
struct TaskCredentials {
  std::string uid, gid, cap_eff, cap_prm, cap_inh, cap_amb;
};

// Keyed by TID; tasks that exit between the listing and the read (an
// io_uring io-wq worker leaving after an idle spell, say) are left out.
std::map<std::string, TaskCredentials> task_credentials(pid_t pid);

// "N\tN\tN\tN": real, effective, saved and filesystem ids all N.
std::string all_ids(unsigned id);

// Every task of `pid` runs as `uid` and `gid` with exactly `caps` (hex as
// in status) effective and permitted and nothing inheritable or ambient;
// at least `min_tasks` of them. Reported through gtest.
void expect_every_task(pid_t pid, unsigned uid, unsigned gid, const std::string& caps,
                       std::size_t min_tasks);

// Writes an executable script at `script` that runs `binary` through
// `launcher`, which must end in an exec of its last arguments (so the proxy
// keeps the script's pid). Returns its path.
std::string launcher_script(const std::filesystem::path& script, const std::string& launcher,
                            const std::string& binary);

// capsh (libcap2-bin) starting the proxy as nobody holding the packaged
// unit's capabilities as ambient (so also permitted, effective and
// inheritable), as systemd's User= with AmbientCapabilities= does, less
// what the test process itself lacks; "" without /usr/sbin/capsh.
std::string ambient_caps_launcher();

}  // namespace sniproxy::integration
