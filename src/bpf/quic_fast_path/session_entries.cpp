#include "bpf/quic_fast_path/session_entries.hpp"

#include <sys/socket.h>

#include <arpa/inet.h>

#include <cstring>

#include <fmt/format.h>

namespace sniproxy::bpf {
namespace {

std::size_t address_size(Family family) {
  return family == Family::v4 ? 4 : 16;
}

// The action that makes a packet look as `sent`: its addresses and ports
// encoded as a key is, so there is one encoding.
sniproxy_quic_fp_flow rewrite_to(const FlowKey& sent, int ifindex) {
  const sniproxy_quic_fp_key as_sent = flow_key_bytes(sent);
  sniproxy_quic_fp_flow flow{};
  std::memcpy(flow.new_src_addr, as_sent.src_addr, sizeof(flow.new_src_addr));
  std::memcpy(flow.new_dst_addr, as_sent.dst_addr, sizeof(flow.new_dst_addr));
  flow.new_src_port = as_sent.src_port;
  flow.new_dst_port = as_sent.dst_port;
  flow.ifindex = static_cast<__u32>(ifindex);
  return flow;
}

FlowKey reversed(const FlowKey& key) {
  return FlowKey{key.destination, key.source};
}

std::string problem_with(const Endpoint& endpoint, const char* what, Family family) {
  if (endpoint.ip.family != family) {
    return fmt::format(
        "{} {} is not of the client's address family (the fast path does not "
        "translate between IPv4 and IPv6)",
        what, endpoint.to_string());
  }
  if (endpoint.ip.is_unspecified()) {
    return fmt::format("{} {} is unspecified: the fast path needs the address packets carry", what,
                       endpoint.to_string());
  }
  if (endpoint.port == 0) return fmt::format("{} {} has port 0", what, endpoint.to_string());
  return {};
}

}  // namespace

sniproxy_quic_fp_key flow_key_bytes(const FlowKey& key) {
  sniproxy_quic_fp_key bytes{};
  const std::size_t size = address_size(key.source.ip.family);
  std::memcpy(bytes.src_addr, key.source.ip.bytes.data(), size);
  std::memcpy(bytes.dst_addr, key.destination.ip.bytes.data(), size);
  bytes.src_port = htons(key.source.port);
  bytes.dst_port = htons(key.destination.port);
  bytes.family = key.source.ip.family == Family::v4 ? AF_INET : AF_INET6;
  return bytes;
}

Result<SessionEntries> session_entries(const FastPathSession& session) {
  const Family family = session.client_side.source.ip.family;
  const std::pair<const Endpoint*, const char*> endpoints[] = {
      {&session.client_side.source, "client"},
      {&session.client_side.destination, "listener address"},
      {&session.backend_side.source, "session socket address"},
      {&session.backend_side.destination, "backend"},
  };
  for (const auto& [endpoint, what] : endpoints) {
    std::string problem = problem_with(*endpoint, what, family);
    if (!problem.empty()) return make_error("QUIC fast path: " + problem);
  }
  if (session.client_ifindex <= 0 || session.backend_ifindex <= 0) {
    return make_error("QUIC fast path: a session needs the ifindex of both devices");
  }
  const FlowKey from_backend = reversed(session.backend_side);
  if (from_backend == session.client_side) {
    return make_error(fmt::format(
        "QUIC fast path: the client side and the backend side are the same flow ({} -> {})",
        from_backend.source.to_string(), from_backend.destination.to_string()));
  }
  SessionEntries entries;
  entries.to_backend_key = flow_key_bytes(session.client_side);
  entries.to_backend = rewrite_to(session.backend_side, session.backend_ifindex);
  entries.to_client_key = flow_key_bytes(from_backend);
  entries.to_client = rewrite_to(reversed(session.client_side), session.client_ifindex);
  return entries;
}

}  // namespace sniproxy::bpf
