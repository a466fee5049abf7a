#pragma once
// The typed configuration. Produced by config::load() from TOML; everything
// downstream reads only these types. Defaults here are the documented ones.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/address.hpp"

namespace sniproxy::config {

using Millis = std::chrono::milliseconds;

// Where a value came from, for messages about it after loading.
struct SourceLocation {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

// quic: a UDP listener reading the name from QUIC Initials (RFC 9000/9001),
// its datagrams passed through unchanged to UDP backends.
enum class Protocol : std::uint8_t { tls, http, quic };
// How a connection's bytes move once it is routed. copy: recv/send through
// userspace buffers; splice: socket -> pipe -> socket inside the kernel;
// automatic ("auto"): chosen per connection and direction (see
// proxy/forwarding_choice.hpp).
enum class ForwardingMode : std::uint8_t { automatic, copy, splice, sockmap };
enum class ProxyProtocol : std::uint8_t { none, v1, v2 };
enum class LogFormat : std::uint8_t { text, json };
enum class AddressPreference : std::uint8_t { ipv4_first, ipv6_first, ipv4_only, ipv6_only };

// `source_address`: what upstream connects are bound to.
struct SourceAddress {
  // "client": the client's own address (transparent proxying, with
  // IP_TRANSPARENT); the kernel picks the port at connect.
  bool client = false;
  IpAddress ip;  // otherwise this address of the host

  friend bool operator==(const SourceAddress&, const SourceAddress&) = default;
};

// What a route (or a listener's fallback) does with a connection.
struct Target {
  enum class Kind : std::uint8_t {
    backend,  // connect to host:port (host is an IP literal or a DNS name)
    resolve,  // connect to the requested server name itself, on `port`
    deny,     // refuse
    pool,     // balance over the servers of the [pools.NAME] named by `pool`
  };
  Kind kind = Kind::deny;
  std::string host;  // backend only; IPv6 without brackets
  std::uint16_t port = 0;
  std::string pool;  // pool only: a key of Config::pools
  // For a pool target the one in force: the route's (or fallback's) own
  // setting, else the pool's.
  ProxyProtocol proxy_protocol = ProxyProtocol::none;
  // TCP Fast Open toward the backend (the hello in the SYN once a cookie is
  // held); for a pool target, as proxy_protocol, the route's else the pool's.
  bool fast_open = false;
  // Connected sockets each worker keeps ready per backend address, so that
  // a routed hello goes out without waiting for a handshake (0: off); for a
  // pool target, as fast_open, the route's else the pool's.
  std::uint32_t preconnect = 0;
  // Open-proxy guard override for `resolve` targets: allow destinations
  // that are loopback, private, link-local or the proxy's own addresses.
  // (A `backend` is the operator's explicit choice and is not guarded.)
  bool allow_private = false;
  // The route's own source_address, else (pool targets) the pool's; unset:
  // the listener's applies.
  std::optional<SourceAddress> source;
};

enum class PatternKind : std::uint8_t { exact, wildcard, regex };

struct Route {
  // As written: "example.com", "*.example.com", "~^api[0-9]+\.example\.com$".
  std::string pattern;
  PatternKind kind = PatternKind::exact;
  // exact: the normalised name; wildcard: the suffix including the leading
  // dot (".example.com"); regex: the expression without the '~'.
  std::string key;
  // Non-empty: the route matches only a TLS client offering one of these
  // ALPN protocols, and then beats every route without `alpn`.
  std::vector<std::string> alpn;
  Target target;
  SourceLocation where;
};

struct RouteTable {
  std::string name;
  std::vector<Route> routes;  // file order
};

// An IP prefix (CIDR): the first `length` bits of `address`; the bits after
// them are zero (the loader refuses a prefix with host bits set).
struct Prefix {
  IpAddress address;
  std::uint8_t length = 0;  // 0..32 for IPv4, 0..128 for IPv6

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 sees a 0 in the defaulted <=>
  friend auto operator<=>(const Prefix&, const Prefix&) = default;
};

// PROXY protocol headers a listener expects in front of each client's bytes
// (from a load balancer in front of the proxy). off: none.
enum class ProxyProtocolIn : std::uint8_t { off, v1, v2, any };

struct Listener {
  std::string name;  // defaults to the address text
  Endpoint address;
  Protocol protocol = Protocol::tls;
  std::string table;                    // must name a [tables.X]
  std::optional<Target> fallback;       // unparseable or unmatched requests
  std::optional<SourceAddress> source;  // of upstream connects, unless the target has its own
  std::optional<ForwardingMode> mode;   // overrides [forwarding] mode
  // IPv6 addresses: accept IPv6 clients only. False: "[::]:P" takes IPv4
  // clients too; true by itself when an IPv4 listener has the same port.
  bool v6only = false;
  // TCP Fast Open: the queue of SYNs with data (a client's hello in its SYN)
  // not yet accepted; 0: off. Set on the listening socket at start-up.
  std::uint32_t fast_open_queue = 0;
  // With a PROXY header expected: the peers allowed to send one (required).
  // A peer outside them, or a connection without a valid header, is closed.
  ProxyProtocolIn proxy_protocol_in = ProxyProtocolIn::off;
  std::vector<Prefix> trusted_sources;
  SourceLocation where;
};

// How a pool spreads connections over its servers (upstream/ implements them).
enum class Balance : std::uint8_t { round_robin, least_conn, random_two, hash_source, hash_name };
// How a pool's servers are checked. tcp: a connect; tls_hello: a connect and
// a ClientHello answered by a ServerHello; none: only passive (failed
// connects), a down server being tried again after `interval`.
enum class HealthCheckKind : std::uint8_t { tcp, tls_hello, none };

// [pools.NAME.health]
struct HealthCheck {
  HealthCheckKind check = HealthCheckKind::tcp;
  std::string server_name;  // tls_hello: the SNI to send (normalised); "" otherwise
  Millis interval{2'000};   // between checks; with `none`, before a down server is retried
  Millis timeout{1'000};    // per check, at most `interval`
  std::uint32_t rise = 2;   // passed checks in a row that bring a down server up
  std::uint32_t fall = 3;   // failed checks (or connects) in a row that take it down

  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

// One entry of a pool's `servers`. A DNS name stands for all its addresses.
struct PoolServer {
  std::string host;  // an IP literal or a normalised DNS name; IPv6 without brackets
  std::uint16_t port = 0;
  std::uint32_t weight = 1;  // 1 .. kMaxPoolServerWeight
  bool backup = false;       // serves only when no primary server is up
  SourceLocation where;
};

inline constexpr std::uint32_t kMaxPoolServerWeight = 256;

// [pools.NAME]: servers a route or fallback balances over.
struct Pool {
  std::string name;
  Balance balance = Balance::round_robin;
  Millis connect_timeout{5'000};  // per attempt; left out, [timeouts] connect
  std::uint32_t retries = 2;      // further servers tried after a failed connect
  ProxyProtocol proxy_protocol = ProxyProtocol::none;  // a route's own setting wins
  bool fast_open = false;                              // a route's own setting wins
  std::uint32_t preconnect = 0;                        // a route's own setting wins
  Millis slow_start{0};                 // 0 = off; else a returning server's share ramps up over it
  std::optional<SourceAddress> source;  // a route's own source_address wins
  std::vector<PoolServer> servers;      // file order, at least one, no two alike
  HealthCheck health;
  SourceLocation where;
};

struct Timeouts {
  // accept -> complete ClientHello / request head. 10 s: a client on a lossy,
  // high-latency link whose hello segment is lost twice needs about 7 s with
  // TCP's doubling retransmit back-off (1 + 2 + 4 s); Envoy waits 15 s,
  // nginx 30 s. Silent clients stay bounded by the per-source limit and XDP.
  Millis hello{10'000};
  Millis connect{5'000};    // upstream connect, per address tried
  Millis idle{300'000};     // no byte either way
  Millis shutdown{30'000};  // drain on SIGTERM before forcing close
  // A preconnected spare socket unused this long is closed (and replaced
  // while its backend is in use): under the idle timeouts servers apply to
  // connections that have sent nothing (nginx and Apache: 60 s and 20 s).
  Millis preconnect_idle{10'000};
};

// The most spare connections per backend address and worker.
inline constexpr std::uint32_t kMaxPreconnect = 64;

struct Limits {
  std::uint32_t max_connections = 50'000;        // whole process
  std::uint32_t max_connections_per_source = 0;  // 0 = unlimited
  std::uint32_t max_hello_size = 65'536;         // bytes of ClientHello / request head
};

struct Dns {
  std::vector<Endpoint> servers;  // empty: /etc/resolv.conf
  AddressPreference prefer = AddressPreference::ipv4_first;
  Millis negative_ttl{5'000};  // cache failures this long
  Millis min_ttl{1'000};       // clamp record TTLs into [min, max]
  Millis max_ttl{3'600'000};
  Millis timeout{2'000};  // per query attempt
  std::uint32_t cache_size = 10'000;
  // Mirror the cache into the BPF map "sniproxy_dns" (bpftool map dump) when
  // the kernel and privileges allow; the userspace cache answers either way.
  bool bpf_mirror = true;
};

struct AccessLog {
  std::string path = "stderr";  // "stderr", "stdout", "off", or a file path
  LogFormat format = LogFormat::text;
};

struct Forwarding {
  ForwardingMode mode = ForwardingMode::copy;
  std::uint32_t buffer_size = 65'536;  // bytes per provided buffer
  std::uint32_t buffers_per_worker = 512;
  // Splice pipes: fewer, larger splices are cheaper (bulk on loopback: 256
  // KiB 1.2x the rate of 64 KiB, 1 MiB 1.08x 256 KiB); 256 KiB keeps 256 of
  // them inside the default per-user pipe quota of a proxy that dropped root.
  std::uint32_t pipe_size = 262'144;     // F_SETPIPE_SZ of each splice pipe
  std::uint32_t pipes_per_worker = 256;  // pool bound: directions splicing at once
  // Sockmap: bytes one direction may have queued in the kernel for a peer
  // that does not read (bpf_c/sockmap.bpf.c); above it TCP backpressure
  // stops the sender.
  std::uint64_t sockmap_queue_cap = std::uint64_t{4} * 1024 * 1024;
  // Connections the sockmap holds at once (two sockets each); more fall
  // back to splice.
  std::uint32_t sockmap_connections = 32'768;
  // auto may move a long-lived exchange of small messages to the sockmap
  // (proxy/forwarding_choice.hpp). Off, auto never loads BPF.
  bool auto_sockmap = false;
};

// Where the XDP program runs. automatic ("auto"): in the driver when it
// supports XDP, else on the generic (skb) path; the start-up log says which.
enum class XdpMode : std::uint8_t { automatic, native, generic };

// [xdp]: a source-address filter run in the driver, in front of the
// listeners' ports. Present only when the section is.
struct Xdp {
  std::vector<std::string> interfaces;  // at least one; restart to change
  XdpMode mode = XdpMode::automatic;    // restart to change
  // Inline entries and the file's, sorted, without duplicates. Deny wins;
  // a non-empty allow list drops every source it does not hold.
  std::vector<Prefix> allow;
  std::vector<Prefix> deny;
  std::string allow_file;  // as resolved against the config's directory; "" = none
  std::string deny_file;
  std::uint32_t syn_rate = 0;   // new connections (SYNs) per second per source; 0 = no guard
  std::uint32_t syn_burst = 0;  // SYNs a source may send at once; defaults to syn_rate
  Millis log_interval{10'000};  // period of the counters log line; 0 = never

  friend bool operator==(const Xdp&, const Xdp&) = default;
};

// [admin]: GET /metrics and GET /status over HTTP, served by worker 0's
// reactor. Present only when the section is.
struct Admin {
  Endpoint listen;
  std::uint32_t max_clients = 16;  // requests in progress at once; more get 503
  Millis request_timeout{5'000};   // accept -> complete request head

  friend bool operator==(const Admin&, const Admin&) = default;
};

// [process]: whom the proxy runs as once its listeners are bound and its BPF
// programs loaded. Restart to change.
struct Process {
  std::string user;   // "" = keep the user it was started as
  std::string group;  // "" = the user's primary group
  // Without a user, starting as root is refused unless this is set.
  bool allow_root = false;
  // A master process keeps the start-up privileges and the listening
  // sockets and runs the workers in a child process, so that an upgrade or a
  // listener change starts a new one beside the old (app/master.hpp).
  bool master = false;

  friend bool operator==(const Process&, const Process&) = default;
};

// [retrans]: retransmits of the proxy's own sockets joined with its
// connections. Present only when the section is.
struct Retrans {
  std::uint32_t log_rate = 10;         // event=retransmit lines per second; 0 = none
  std::uint32_t max_sockets = 65'536;  // bound of the BPF owner map (an LRU)

  friend bool operator==(const Retrans&, const Retrans&) = default;
};

// Which event loop the workers run. automatic ("auto"): io_uring where the
// ring and the operations the proxy needs work, epoll otherwise.
enum class ReactorBackend : std::uint8_t { automatic, io_uring, epoll };

// [reactor]: restart to change.
struct Reactor {
  ReactorBackend backend = ReactorBackend::automatic;

  friend bool operator==(const Reactor&, const Reactor&) = default;
};

// [quic]: the bounds of the QUIC listeners' state (proxy/quic/). A flow is
// pending until its ClientHello is in, then a session; both are per client
// address. Applied to new flows on reload.
struct Quic {
  // A pending flow's ClientHello must be complete within this. 10 s, as for
  // TCP's hello: a client resends a lost Initial on its probe timeout, about
  // 1 s before any round trip is known and doubling (RFC 9002), so a hello
  // datagram lost twice arrives after about 3 s and thrice after 7 s (seen
  // with a real client under loss). Memory stays bounded by
  // max_pending_flows and max_pending_per_source, which evict the oldest.
  Millis hello_timeout{10'000};
  std::uint32_t max_pending_flows = 4'096;    // whole listener set; the oldest is evicted
  std::uint32_t max_pending_per_source = 64;  // per client IP; its oldest is evicted
  std::uint32_t max_held_datagrams = 8;       // per pending flow, sent on once routed
  std::uint32_t max_held_bytes = 16'384;      // per pending flow
  std::uint32_t max_hello_size = 16'384;      // CRYPTO bytes of one ClientHello
  std::uint32_t max_sessions = 65'536;        // routed flows; a new one over it is dropped
  // Receive and send buffer of the listener and session sockets: a burst of
  // datagrams waits there while the one thread is busy (the kernel's 208 KiB
  // default lost most of an unpaced stream).
  std::uint32_t socket_buffer = 4 * 1024 * 1024;
  // A session ends after no datagram either way for max(idle_timeout, the
  // client's max_idle_timeout capped at max_idle_timeout).
  Millis idle_timeout{30'000};
  Millis max_idle_timeout{600'000};
  // Answer an unknown version's Initial (>= 1200 bytes) with a Version
  // Negotiation packet (RFC 9000 6.1), at most one per client address and
  // second.
  bool version_negotiation = true;
  // Established sessions forwarded by a TC program on the ingress of these
  // devices (bpf/quic_fast_path/); restart to change.
  bool fast_path = false;
  std::vector<std::string> fast_path_interfaces;

  friend bool operator==(const Quic&, const Quic&) = default;
};

struct Config {
  std::string file;           // the path it was loaded from
  std::uint32_t workers = 0;  // 0 = one per online CPU
  std::string log_level = "info";
  Timeouts timeouts;
  Limits limits;
  Dns dns;
  AccessLog access_log;
  Forwarding forwarding;
  std::vector<Listener> listeners;
  std::map<std::string, RouteTable> tables;
  std::map<std::string, Pool> pools;
  std::optional<Xdp> xdp;  // [xdp], when present
  Process process;
  std::optional<Admin> admin;      // [admin], when present
  std::optional<Retrans> retrans;  // [retrans], when present
  Reactor reactor;
  Quic quic;
};

}  // namespace sniproxy::config
