#include "bpf/loader/cgroup_mount.hpp"

#include <fstream>
#include <sstream>
#include <vector>

namespace sniproxy::bpf {
namespace {

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> fields;
  while (!line.empty()) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    const auto end = line.find(' ');
    fields.push_back(line.substr(0, end));
    if (end == std::string_view::npos) break;
    line.remove_prefix(end);
  }
  return fields;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '\\' && path.size() - i > 3) {
      const auto digit = [&](std::size_t k) { return path[i + k] >= '0' && path[i + k] <= '7'; };
      if (digit(1) && digit(2) && digit(3)) {
        out.push_back(static_cast<char>((path[i + 1] - '0') * 64 + (path[i + 2] - '0') * 8 +
                                        (path[i + 3] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(path[i]);
  }
  return out;
}

}  // namespace

std::optional<std::string> find_cgroup2_mount(std::string_view mountinfo) {
  while (!mountinfo.empty()) {
    const auto end = mountinfo.find('\n');
    const std::string_view line = mountinfo.substr(0, end);
    mountinfo.remove_prefix(end == std::string_view::npos ? mountinfo.size() : end + 1);
    // id parent major:minor root mount-point options [optional...] - type source super-options
    const auto fields = split_spaces(line);
    for (std::size_t i = 6; i + 1 < fields.size(); ++i) {
      if (fields[i] != "-") continue;
      if (fields[i + 1] == "cgroup2") return unescape(fields[4]);
      break;
    }
  }
  return std::nullopt;
}

Result<std::string> cgroup2_mount() {
  std::ifstream file("/proc/self/mountinfo");
  std::stringstream text;
  text << file.rdbuf();
  if (!file) return make_error("cannot read /proc/self/mountinfo to find the cgroup v2 mount");
  if (auto mount = find_cgroup2_mount(text.str())) return *mount;
  return make_error(
      "no cgroup v2 (cgroup2) filesystem is mounted: mount one, e.g. "
      "`mount -t cgroup2 none /sys/fs/cgroup/unified`");
}

}  // namespace sniproxy::bpf
