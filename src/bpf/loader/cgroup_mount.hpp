#pragma once
// Where the cgroup v2 hierarchy is mounted: a sock_ops program attaches to a
// directory of it. Systemd mounts it at /sys/fs/cgroup (unified) or
// /sys/fs/cgroup/unified (hybrid); a container may have it elsewhere.
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace sniproxy::bpf {

// The mount point of the first cgroup2 filesystem in /proc/self/mountinfo
// text (pure; octal escapes such as "\040" in the path are decoded).
std::optional<std::string> find_cgroup2_mount(std::string_view mountinfo);

// Reads /proc/self/mountinfo; the error says how to mount one.
Result<std::string> cgroup2_mount();

}  // namespace sniproxy::bpf
