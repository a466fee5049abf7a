#include "support/credentials.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <utility>

#include "support/temp_dir.hpp"

namespace sniproxy::integration {

std::map<std::string, TaskCredentials> task_credentials(pid_t pid) {
  std::map<std::string, TaskCredentials> out;
  const auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream status(task.path() / "status");
    TaskCredentials creds;
    for (std::string line; std::getline(status, line);) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      const std::string key = line.substr(0, colon);
      if (key == "Uid") creds.uid = value;
      if (key == "Gid") creds.gid = value;
      if (key == "CapEff") creds.cap_eff = value;
      if (key == "CapPrm") creds.cap_prm = value;
      if (key == "CapInh") creds.cap_inh = value;
      if (key == "CapAmb") creds.cap_amb = value;
    }
    if (creds.uid.empty() || creds.cap_amb.empty()) continue;
    out[task.path().filename().string()] = creds;
  }
  return out;
}

std::string all_ids(unsigned id) {
  const std::string n = std::to_string(id);
  return n + "\t" + n + "\t" + n + "\t" + n;
}

void expect_every_task(pid_t pid, unsigned uid, unsigned gid, const std::string& caps,
                       std::size_t min_tasks) {
  const auto tasks = task_credentials(pid);
  EXPECT_GE(tasks.size(), min_tasks) << "main thread and the workers";
  for (const auto& [tid, creds] : tasks) {
    EXPECT_EQ(creds.uid, all_ids(uid)) << "task " << tid;
    EXPECT_EQ(creds.gid, all_ids(gid)) << "task " << tid;
    EXPECT_EQ(creds.cap_eff, caps) << "task " << tid;
    EXPECT_EQ(creds.cap_prm, caps) << "task " << tid;
    EXPECT_EQ(creds.cap_inh, "0000000000000000") << "task " << tid;
    EXPECT_EQ(creds.cap_amb, "0000000000000000") << "task " << tid;
  }
}

std::string launcher_script(const std::filesystem::path& script, const std::string& launcher,
                            const std::string& binary) {
  write_file(script, "#!/bin/sh\nexec " + launcher + " " + binary + " \"$@\"\n");
  std::filesystem::permissions(script, std::filesystem::perms::owner_all |
                                           std::filesystem::perms::others_read |
                                           std::filesystem::perms::others_exec);
  return script.string();
}

std::string ambient_caps_launcher() {
  if (::access("/usr/sbin/capsh", X_OK) != 0) return "";
  // A container may hold no CAP_SYS_RESOURCE, say: capsh cannot grant more
  // than the test process has.
  const std::string status = read_file("/proc/self/status");
  const auto at = status.find("CapPrm:\t");
  const std::uint64_t held =
      at == std::string::npos ? 0 : std::stoull(status.substr(at + 8, 16), nullptr, 16);
  std::string unit_caps;
  for (const auto& [name, bit] : {std::pair{"cap_net_bind_service", 10},
                                  {"cap_net_admin", 12},
                                  {"cap_sys_resource", 24},
                                  {"cap_perfmon", 38},
                                  {"cap_bpf", 39}})
    if ((held >> bit) & 1U) unit_caps += std::string(unit_caps.empty() ? "" : ",") + name;
  // --keep=1 keeps the permitted set across capsh's switch to nobody,
  // --addamb raises the ambient set, and the shell's exec hands it on;
  // cap_setuid and cap_setgid are only for capsh's own switch.
  return "/usr/sbin/capsh --caps=" + unit_caps + ",cap_setuid,cap_setgid+eip --keep=1 " +
         "--user=nobody --addamb=" + unit_caps + " -- -c 'exec \"$0\" \"$@\"'";
}

}  // namespace sniproxy::integration
