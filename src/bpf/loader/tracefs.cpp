#include "bpf/loader/tracefs.hpp"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace sniproxy::bpf {
namespace {

constexpr const char* kTracefs = "/sys/kernel/tracing";
constexpr const char* kDebugfsTracefs = "/sys/kernel/debug/tracing";  // BCC looks here first

bool has_events(const std::string& path) {
  return ::access((path + "/events").c_str(), F_OK) == 0;
}

}  // namespace

Result<TracefsStatus> ensure_tracefs() {
  for (const char* path : {kDebugfsTracefs, kTracefs}) {
    if (has_events(path)) return TracefsStatus{path, false};
  }
  if (::mount("nodev", kTracefs, "tracefs", 0, nullptr) != 0) {
    return make_error(fmt::format(
        "BPF: tracefs is not mounted at {} and mounting it failed ({}): run `mount -t tracefs "
        "nodev {}` as root",
        kTracefs, std::strerror(errno), kTracefs));
  }
  if (!has_events(kTracefs)) {
    return make_error(fmt::format("BPF: tracefs mounted at {} has no events/ directory", kTracefs));
  }
  return TracefsStatus{kTracefs, true};
}

bool tracepoint_exists(const std::string& tracefs_path, std::string_view category_event) {
  std::size_t colon = category_event.find(':');
  if (colon == std::string_view::npos) return false;
  std::string id = fmt::format("{}/events/{}/{}/id", tracefs_path, category_event.substr(0, colon),
                               category_event.substr(colon + 1));
  return ::access(id.c_str(), F_OK) == 0;
}

}  // namespace sniproxy::bpf
