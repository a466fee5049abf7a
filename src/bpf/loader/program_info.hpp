#pragma once
// What the kernel says about a loaded BPF program found by id (for instance
// the one attached to a device): its name, type and the names of its maps,
// and which processes hold it open. Used to tell a stale copy of our own
// XDP program, left attached by a crashed proxy, from anyone else's.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::bpf {

struct ProgramInfo {
  std::uint32_t id = 0;
  std::uint32_t type = 0;  // BPF_PROG_TYPE_*
  std::string name;        // at most 15 characters (BPF_OBJ_NAME_LEN)
  std::vector<std::string> map_names;
};

// A new fd for the program with this id (needs CAP_SYS_ADMIN).
Result<UniqueFd> program_fd_by_id(std::uint32_t id);

Result<ProgramInfo> program_info(std::uint32_t id);

// Processes other than this one with an fd open on program `id`, from
// /proc/*/fdinfo (processes in other PID namespaces are not seen).
std::vector<pid_t> program_holders(std::uint32_t id);

}  // namespace sniproxy::bpf
