#pragma once
// A retransmit event from bpf_c/retrans.bpf.c as a C++ value, and its text
// forms (one key=value line, one JSON object). Pure: no BPF, no I/O, so it
// is unit-tested without privileges.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/address.hpp"

namespace sniproxy::bpf {

struct TaskId {
  std::uint32_t tgid = 0;  // process id
  std::uint32_t pid = 0;   // thread id
  std::string comm;
};

struct RetransEvent {
  std::uint64_t monotonic_ns = 0;  // bpf_ktime_get_ns() at the retransmit
  std::uint64_t socket = 0;        // the socket's kernel address (identity only)
  Endpoint local;
  Endpoint remote;
  int state = 0;  // kernel TCP state numbering
  bool owner_known = false;
  TaskId owner;  // valid when owner_known
  std::uint64_t cgroup_id = 0;
  TaskId current;  // the task on the CPU at the retransmit (what naive tracers report)
};

// Decodes one perf buffer record (struct sniproxy_retrans_event); nullopt
// when it is too short or names an unknown address family.
std::optional<RetransEvent> decode_retrans_event(std::span<const std::byte> record);

// "ESTABLISHED", "SYN_SENT", ...; "STATE_<n>" for numbers it does not know.
std::string tcp_state_name(int state);

// Wall-clock time from CLOCK_REALTIME nanoseconds, RFC 3339 UTC with
// microseconds: "2025-01-02T03:04:05.678901Z".
std::string format_wall_time(std::int64_t realtime_ns);

// A value for a key=value line: as is when it is a plain token, else quoted.
std::string kv_value(std::string_view value);

// One line: time=... pid=... tid=... comm=... cgroup=... local=... remote=...
// state=... owner=known|unknown current_pid=... current_comm=...
// `realtime_offset_ns` turns the event's monotonic time into wall time.
std::string format_event_line(const RetransEvent& event, std::int64_t realtime_offset_ns);
// The same fields as one JSON object on one line (no trailing newline).
std::string format_event_json(const RetransEvent& event, std::int64_t realtime_offset_ns);

}  // namespace sniproxy::bpf
