// Raw bpf(2) calls: BCC's libbpf.h declares bpf_prog_get_fd_by_id and
// bpf_obj_get_info_by_fd, but they live in libbpf, which libbcc does not
// re-export and Debian ships no development package of.
#include "bpf/loader/program_info.hpp"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace sniproxy::bpf {
namespace {

long bpf(int command, bpf_attr& attr) {
  return ::syscall(__NR_bpf, command, &attr, sizeof attr);
}

template <class Info>
int object_info(int fd, Info& info) {
  bpf_attr attr{};
  attr.info.bpf_fd = static_cast<std::uint32_t>(fd);
  attr.info.info_len = sizeof info;
  attr.info.info = reinterpret_cast<std::uint64_t>(&info);
  return static_cast<int>(bpf(BPF_OBJ_GET_INFO_BY_FD, attr));
}

std::string object_name(const char (&name)[BPF_OBJ_NAME_LEN]) {
  return std::string(name, strnlen(name, BPF_OBJ_NAME_LEN));
}

std::string map_name(std::uint32_t id) {
  bpf_attr attr{};
  attr.map_id = id;
  UniqueFd fd(static_cast<int>(bpf(BPF_MAP_GET_FD_BY_ID, attr)));
  if (!fd) return "";
  bpf_map_info info{};
  if (object_info(fd.get(), info) != 0) return "";
  return object_name(info.name);
}

// "prog_id:\t42" in /proc/PID/fdinfo/FD.
bool fdinfo_names_program(const std::filesystem::path& fdinfo, std::uint32_t id) {
  std::ifstream in(fdinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("prog_id:", 0) != 0) continue;
    std::size_t at = line.find_first_not_of(" \t", 8);
    if (at == std::string::npos) return false;
    std::uint32_t value = 0;
    auto [ptr, ec] = std::from_chars(line.data() + at, line.data() + line.size(), value);
    return ec == std::errc() && value == id;
  }
  return false;
}

}  // namespace

Result<UniqueFd> program_fd_by_id(std::uint32_t id) {
  bpf_attr attr{};
  attr.prog_id = id;
  UniqueFd fd(static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, attr)));
  if (!fd) return make_error(fmt::format("BPF program id {}: {}", id, std::strerror(errno)));
  return fd;
}

Result<ProgramInfo> program_info(std::uint32_t id) {
  auto fd = program_fd_by_id(id);
  if (!fd.ok()) return fd.error();
  bpf_prog_info info{};
  if (object_info(fd->get(), info) != 0) {
    return make_error(fmt::format("BPF program id {}: no info: {}", id, std::strerror(errno)));
  }
  ProgramInfo out;
  out.id = info.id;
  out.type = info.type;
  out.name = object_name(info.name);
  // A second call with room for the map ids; a program has a few.
  std::vector<std::uint32_t> map_ids(info.nr_map_ids);
  if (!map_ids.empty()) {
    bpf_prog_info again{};
    again.nr_map_ids = static_cast<std::uint32_t>(map_ids.size());
    again.map_ids = reinterpret_cast<std::uint64_t>(map_ids.data());
    if (object_info(fd->get(), again) != 0) {
      return make_error(fmt::format("BPF program id {}: no map ids: {}", id, std::strerror(errno)));
    }
    map_ids.resize(std::min<std::size_t>(map_ids.size(), again.nr_map_ids));
  }
  for (std::uint32_t map_id : map_ids) out.map_names.push_back(map_name(map_id));
  return out;
}

std::vector<pid_t> program_holders(std::uint32_t id) {
  std::vector<pid_t> holders;
  const pid_t self = ::getpid();
  namespace fs = std::filesystem;
  // Processes come and go while this runs: every step takes an error_code
  // and skips what vanished instead of throwing.
  std::error_code ec;
  for (fs::directory_iterator process("/proc", ec), end; !ec && process != end;
       process.increment(ec)) {
    pid_t pid = 0;
    const std::string name = process->path().filename().string();
    auto [ptr, parse_ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (parse_ec != std::errc() || ptr != name.data() + name.size() || pid == self) continue;
    std::error_code fd_ec;
    for (fs::directory_iterator fd(process->path() / "fd", fd_ec); !fd_ec && fd != end;
         fd.increment(fd_ec)) {
      std::error_code link_ec;
      // Only BPF program fds have a prog_id line; reading just those keeps this cheap.
      if (fs::read_symlink(fd->path(), link_ec).string() != "anon_inode:bpf-prog") continue;
      if (fdinfo_names_program(process->path() / "fdinfo" / fd->path().filename(), id)) {
        holders.push_back(pid);
        break;
      }
    }
  }
  return holders;
}

}  // namespace sniproxy::bpf
