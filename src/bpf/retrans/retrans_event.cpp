#include "bpf/retrans/retrans_event.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "common/json.hpp"
#include "shared_types.h"

namespace sniproxy::bpf {
namespace {

// The BPF side writes this struct byte for byte; a size change means both
// sides must be looked at.
static_assert(sizeof(sniproxy_retrans_event) == 120, "retrans event layout changed");
static_assert(sizeof(sniproxy_retrans_owner) == 40, "retrans owner layout changed");

constexpr std::uint16_t kAfInet = 2;
constexpr std::uint16_t kAfInet6 = 10;

std::string comm_of(const char (&comm)[16]) {
  return std::string(comm, ::strnlen(comm, sizeof comm));
}

IpAddress address_of(std::uint16_t family, const __u8 (&bytes)[16]) {
  IpAddress address;
  address.family = family == kAfInet6 ? Family::v6 : Family::v4;
  std::copy_n(bytes, family == kAfInet6 ? 16 : 4, address.bytes.begin());
  return address;
}

}  // namespace

std::optional<RetransEvent> decode_retrans_event(std::span<const std::byte> record) {
  sniproxy_retrans_event raw{};
  // Perf records are padded to 8 bytes; shorter than the struct is corrupt.
  if (record.size() < sizeof raw) return std::nullopt;
  std::memcpy(&raw, record.data(), sizeof raw);
  if (raw.family != kAfInet && raw.family != kAfInet6) return std::nullopt;
  RetransEvent event;
  event.monotonic_ns = raw.time_ns;
  event.socket = raw.skaddr;
  event.local = Endpoint{address_of(raw.family, raw.saddr), raw.sport};
  event.remote = Endpoint{address_of(raw.family, raw.daddr), raw.dport};
  event.state = static_cast<int>(raw.state);
  event.owner_known = raw.owner_known != 0;
  if (event.owner_known) {
    event.owner = TaskId{raw.owner_tgid, raw.owner_pid, comm_of(raw.owner_comm)};
    event.cgroup_id = raw.cgroup_id;
  }
  event.current = TaskId{raw.current_tgid, raw.current_pid, comm_of(raw.current_comm)};
  return event;
}

std::string tcp_state_name(int state) {
  static constexpr std::string_view kNames[] = {
      "",      "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
  if (state >= 1 && state < static_cast<int>(std::size(kNames))) return std::string(kNames[state]);
  return fmt::format("STATE_{}", state);
}

std::string format_wall_time(std::int64_t realtime_ns) {
  auto seconds = static_cast<std::time_t>(realtime_ns / 1'000'000'000);
  long micros = static_cast<long>((realtime_ns % 1'000'000'000) / 1000);
  if (micros < 0) {
    micros += 1'000'000;
    --seconds;
  }
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:06}Z", text, micros);
}

std::string kv_value(std::string_view value) {
  bool plain = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
    return c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
  if (plain) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      quoted += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

std::string format_event_line(const RetransEvent& e, std::int64_t realtime_offset_ns) {
  std::string time =
      format_wall_time(static_cast<std::int64_t>(e.monotonic_ns) + realtime_offset_ns);
  std::string owner = e.owner_known ? fmt::format("pid={} tid={} comm={} cgroup={}", e.owner.tgid,
                                                  e.owner.pid, kv_value(e.owner.comm), e.cgroup_id)
                                    : std::string("pid=? tid=? comm=? cgroup=?");
  return fmt::format(
      "time={} {} local={} remote={} state={} owner={} current_pid={} current_comm={}", time, owner,
      e.local.to_string(), e.remote.to_string(), tcp_state_name(e.state),
      e.owner_known ? "known" : "unknown", e.current.tgid, kv_value(e.current.comm));
}

std::string format_event_json(const RetransEvent& e, std::int64_t realtime_offset_ns) {
  const std::int64_t wall = static_cast<std::int64_t>(e.monotonic_ns) + realtime_offset_ns;
  std::string owner =
      e.owner_known ? fmt::format(R"("pid":{},"tid":{},"comm":{},"cgroup_id":{})", e.owner.tgid,
                                  e.owner.pid, json_string(e.owner.comm), e.cgroup_id)
                    : std::string(R"("pid":null,"tid":null,"comm":null,"cgroup_id":null)");
  return fmt::format(
      R"({{"time":{},"time_ns":{},"family":"{}","local":{},"remote":{},"local_addr":{},)"
      R"("local_port":{},"remote_addr":{},"remote_port":{},"state":"{}","owner_known":{},{},)"
      R"("current_pid":{},"current_tid":{},"current_comm":{}}})",
      json_string(format_wall_time(wall)), wall, e.local.ip.family == Family::v6 ? "ipv6" : "ipv4",
      json_string(e.local.to_string()), json_string(e.remote.to_string()),
      json_string(e.local.ip.to_string()), e.local.port, json_string(e.remote.ip.to_string()),
      e.remote.port, tcp_state_name(e.state), e.owner_known ? "true" : "false", owner,
      e.current.tgid, e.current.pid, json_string(e.current.comm));
}

}  // namespace sniproxy::bpf
