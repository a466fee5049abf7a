#include "proxy/quic/session_fast_path.hpp"

#include <algorithm>

#include "bpf/quic_fast_path/egress_route.hpp"

namespace sniproxy::proxy::quic {

SessionFastPath::~SessionFastPath() {
  if (handle_) (void)path_.remove_session(*handle_);
}

Result<bool> SessionFastPath::enter(const SessionAddresses& a) {
  // Replies to the client leave from the listener's address, the backend's
  // datagrams from the session socket's: the lookups use those sources.
  auto client_if = bpf::egress_ifindex(a.listener.ip, a.client.ip);
  if (!client_if) return client_if.error();
  auto backend_if = bpf::egress_ifindex(a.session_local.ip, a.backend.ip);
  if (!backend_if) return backend_if.error();
  bpf::FastPathSession session;
  session.client_side = {a.client, a.listener};
  session.backend_side = {a.session_local, a.backend};
  session.client_ifindex = *client_if;
  session.backend_ifindex = *backend_if;
  if (handle_) leave();
  auto handle = path_.add_session(session);
  if (!handle) return handle.error();
  handle_ = *handle;
  current_polled_ = {};
  return true;
}

FastPathPoll SessionFastPath::poll() {
  FastPathPoll out;
  if (!handle_) return out;
  auto read = path_.read_counters(*handle_);
  if (!read) return out;
  const bpf::SessionCounters& c = *read;
  // The map's counters only grow while the entries exist.
  out.added.packets_to_backend = c.to_backend.packets - current_polled_.packets_to_backend;
  out.added.bytes_to_backend = c.to_backend.bytes - current_polled_.bytes_to_backend;
  out.added.packets_to_client = c.to_client.packets - current_polled_.packets_to_client;
  out.added.bytes_to_client = c.to_client.bytes - current_polled_.bytes_to_client;
  current_polled_ = {c.to_backend.packets, c.to_backend.bytes, c.to_client.packets,
                     c.to_client.bytes};
  totals_.packets_to_backend += out.added.packets_to_backend;
  totals_.bytes_to_backend += out.added.bytes_to_backend;
  totals_.packets_to_client += out.added.packets_to_client;
  totals_.bytes_to_client += out.added.bytes_to_client;
  out.last_seen = c.to_backend.last_seen;
  if (c.to_client.last_seen && (!out.last_seen || *c.to_client.last_seen > *out.last_seen))
    out.last_seen = c.to_client.last_seen;
  return out;
}

FastPathPoll SessionFastPath::leave() {
  FastPathPoll out = poll();
  if (handle_) (void)path_.remove_session(*handle_);
  handle_.reset();
  current_polled_ = {};
  return out;
}

}  // namespace sniproxy::proxy::quic
