#pragma once
// The keys each section of the config accepts. The loader rejects any other
// key with exactly these lists, so tests can hold sniproxy.toml(5) and the
// shipped example to them: a new key cannot be added without showing up there.
#include <array>
#include <span>
#include <string_view>

namespace sniproxy::config {

inline constexpr std::array<std::string_view, 16> kTopLevelKeys{
    "workers", "log_level", "timeouts", "limits", "dns",     "access_log", "forwarding", "listener",
    "tables",  "pools",     "xdp",      "admin",  "retrans", "process",    "reactor",    "quic"};
inline constexpr std::array<std::string_view, 5> kTimeoutsKeys{"hello", "connect", "idle",
                                                               "shutdown", "preconnect_idle"};
inline constexpr std::array<std::string_view, 3> kLimitsKeys{
    "max_connections", "max_connections_per_source", "max_hello_size"};
inline constexpr std::array<std::string_view, 8> kDnsKeys{"servers",    "prefer",    "negative_ttl",
                                                          "min_ttl",    "max_ttl",   "timeout",
                                                          "cache_size", "bpf_mirror"};
inline constexpr std::array<std::string_view, 2> kAccessLogKeys{"path", "format"};
inline constexpr std::array<std::string_view, 8> kForwardingKeys{"mode",
                                                                 "buffer_size",
                                                                 "buffers_per_worker",
                                                                 "pipe_size",
                                                                 "pipes_per_worker",
                                                                 "sockmap_queue_cap",
                                                                 "sockmap_connections",
                                                                 "auto_sockmap"};
inline constexpr std::array<std::string_view, 12> kListenerKeys{"name",
                                                                "address",
                                                                "protocol",
                                                                "table",
                                                                "fallback",
                                                                "fallback_proxy_protocol",
                                                                "source_address",
                                                                "mode",
                                                                "v6only",
                                                                "proxy_protocol_in",
                                                                "trusted_sources",
                                                                "fast_open_queue"};
inline constexpr std::array<std::string_view, 11> kRouteKeys{
    "match",         "backend", "resolve",   "pool",           "deny",      "proxy_protocol",
    "allow_private", "alpn",    "fast_open", "source_address", "preconnect"};
inline constexpr std::array<std::string_view, 10> kPoolKeys{
    "balance", "connect_timeout", "retries",   "proxy_protocol", "slow_start",
    "servers", "health",          "fast_open", "source_address", "preconnect"};
inline constexpr std::array<std::string_view, 3> kPoolServerKeys{"backend", "weight", "backup"};
inline constexpr std::array<std::string_view, 6> kPoolHealthKeys{
    "check", "server_name", "interval", "timeout", "rise", "fall"};
inline constexpr std::array<std::string_view, 9> kXdpKeys{
    "interfaces", "mode",     "allow",     "allow_file",  "deny",
    "deny_file",  "syn_rate", "syn_burst", "log_interval"};
inline constexpr std::array<std::string_view, 3> kAdminKeys{"listen", "max_clients",
                                                            "request_timeout"};
inline constexpr std::array<std::string_view, 2> kRetransKeys{"log_rate", "max_sockets"};
inline constexpr std::array<std::string_view, 4> kProcessKeys{"user", "group", "allow_root",
                                                              "master"};
inline constexpr std::array<std::string_view, 1> kReactorKeys{"backend"};
inline constexpr std::array<std::string_view, 13> kQuicKeys{
    "hello_timeout",       "max_pending_flows", "max_pending_per_source",
    "max_held_datagrams",  "max_held_bytes",    "max_hello_size",
    "max_sessions",        "idle_timeout",      "max_idle_timeout",
    "version_negotiation", "fast_path",         "fast_path_interfaces",
    "socket_buffer"};

struct SectionKeys {
  // The top-level key that holds the section ("" for the top level itself);
  // "tables" stands for every [[tables.NAME]], "pools" for every
  // [pools.NAME], and "pools.SUB" for the SUB table (or array of tables)
  // inside each of them.
  std::string_view section;
  std::span<const std::string_view> keys;
};

inline constexpr std::array<SectionKeys, 17> kKnownKeys{{
    {"", kTopLevelKeys},
    {"timeouts", kTimeoutsKeys},
    {"limits", kLimitsKeys},
    {"dns", kDnsKeys},
    {"access_log", kAccessLogKeys},
    {"forwarding", kForwardingKeys},
    {"listener", kListenerKeys},
    {"tables", kRouteKeys},
    {"pools", kPoolKeys},
    {"pools.servers", kPoolServerKeys},
    {"pools.health", kPoolHealthKeys},
    {"xdp", kXdpKeys},
    {"admin", kAdminKeys},
    {"retrans", kRetransKeys},
    {"process", kProcessKeys},
    {"reactor", kReactorKeys},
    {"quic", kQuicKeys},
}};

}  // namespace sniproxy::config
