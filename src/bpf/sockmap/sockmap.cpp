#include "bpf/sockmap/sockmap.hpp"

#include <bcc/libbpf.h>
#include <linux/bpf.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bpf/loader/kernel_layout.hpp"
#include "bpf/sockmap/socket_info.hpp"
#include "common/elapsed.hpp"
#include "common/log.hpp"
#include "shared_types.h"

namespace sniproxy::bpf {
namespace {

using Clock = std::chrono::steady_clock;

InsertFailure failure(InsertFailureKind kind, std::string message) {
  return InsertFailure{kind, std::move(message)};
}

// A map write failed with `error`: which kind of failure that is.
InsertFailure map_write_failure(std::string_view what, int error, std::uint32_t max_sockets) {
  switch (error) {
    case E2BIG:
    case ENOSPC:
    case ENOMEM:
      return failure(InsertFailureKind::map_full,
                     fmt::format("sockmap: cannot add {}: the maps are full ({} sockets, {}): "
                                 "forward this connection in userspace, or raise the socket "
                                 "limit of the sockmap",
                                 what, max_sockets, std::strerror(error)));
    case EOPNOTSUPP:
    case EINVAL:
    case EBUSY:
    case EPROTONOSUPPORT:
      return failure(InsertFailureKind::unsupported,
                     fmt::format("sockmap: the kernel refused {} ({}): a socket with a ULP such "
                                 "as kTLS, or already in another sockmap, cannot be forwarded "
                                 "in the kernel; forward it in userspace",
                                 what, std::strerror(error)));
    default:
      return failure(InsertFailureKind::other,
                     fmt::format("sockmap: cannot add {}: {}", what, std::strerror(error)));
  }
}

Result<int> find_map(Module& module, std::string_view name) {
  auto fd = module.map_fd(name);
  if (!fd.ok()) return make_error("sockmap: " + fd.error().message);
  return *fd;
}

}  // namespace

std::string_view to_string(InsertFailureKind kind) {
  switch (kind) {
    case InsertFailureKind::not_established:
      return "not_established";
    case InsertFailureKind::map_full:
      return "map_full";
    case InsertFailureKind::unsupported:
      return "unsupported";
    case InsertFailureKind::other:
      return "other";
  }
  return "other";
}

Result<std::unique_ptr<Sockmap>> Sockmap::create(const SockmapOptions& options) {
  if (options.max_sockets < 2) {
    return make_error(fmt::format("sockmap: max_sockets {} is too small: a connection needs 2",
                                  options.max_sockets));
  }
  auto start = Clock::now();
  auto layout = read_skb_seq_layout(options.btf_path);
  if (!layout.ok()) return make_error("sockmap: " + layout.error().message);
  std::vector<std::string> cflags = layout->cflags();
  cflags.push_back(fmt::format("-DSOCKMAP_MAX_SOCKETS={}", options.max_sockets));
  ProgramSet set{"sockmap", {"sockmap.bpf.c"}, std::move(cflags), {}};
  auto module = Module::load(set, options.load);
  if (!module.ok()) return module.error();

  std::unique_ptr<Sockmap> map(new Sockmap());
  map->module_ = std::move(*module);
  map->max_sockets_ = options.max_sockets;
  map->compile_time_ = map->module_->compile_time();
  Module& bpf = *map->module_;
  for (auto [field, name] :
       {std::pair{&MapFds::sockets, "sock_pairs"}, std::pair{&MapFds::peers, "peer_of"},
        std::pair{&MapFds::state, "sockmap_state"},
        std::pair{&MapFds::control, "sockmap_control"}}) {
    auto fd = find_map(bpf, name);
    if (!fd.ok()) return fd.error();
    map->maps_.*field = *fd;
  }
  // The verdict before any socket is inserted (docs/kernel.md). No stream
  // parser: with one, SK_PASS deadlocks the socket; no sk_msg program: with
  // one, sends under pressure duplicate data (both in sockmap.bpf.c).
  auto verdict =
      bpf.attach_to_map(map->maps_.sockets, "sockmap_verdict", ProgramType::sk_skb_stream_verdict);
  if (!verdict.ok()) return verdict.error();
  map->verdict_ = std::move(*verdict);

  map->startup_time_ = elapsed_since(start);
  log::info("sockmap_ready", "max_sockets={} compile_ms={} startup_ms={}", options.max_sockets,
            map->compile_time_.count(), map->startup_time_.count());
  return map;
}

Sockmap::~Sockmap() = default;

namespace {

// Map entries a half-done insert wrote, deleted again (newest first) unless
// committed, so a failed insert leaves nothing in the maps.
class MapEntries {
 public:
  explicit MapEntries(std::uint32_t max_sockets) : max_sockets_(max_sockets) {}
  MapEntries(const MapEntries&) = delete;
  MapEntries& operator=(const MapEntries&) = delete;
  ~MapEntries() {
    for (auto it = written_.rbegin(); it != written_.rend(); ++it) {
      std::uint64_t key = it->second;
      bpf_delete_elem(it->first, &key);
    }
  }

  // BPF_NOEXIST everywhere: a socket already forwarded must not be re-paired.
  std::optional<InsertFailure> add(int map_fd, const char* what, std::uint64_t key,
                                   const void* value) {
    if (bpf_update_elem(map_fd, &key, const_cast<void*>(value), BPF_NOEXIST) != 0) {
      int error = errno;
      if (error == EEXIST) {
        return failure(InsertFailureKind::other,
                       fmt::format("sockmap: cannot add {}: the socket is already forwarded "
                                   "(remove its pair first)",
                                   what));
      }
      return map_write_failure(what, error, max_sockets_);
    }
    written_.emplace_back(map_fd, key);
    return std::nullopt;
  }
  void commit() { written_.clear(); }

 private:
  std::uint32_t max_sockets_;
  std::vector<std::pair<int, std::uint64_t>> written_;  // map fd, key
};

// Only ESTABLISHED TCP sockets can be inserted (docs/kernel.md).
std::optional<InsertFailure> check_established(int client_fd, int backend_fd) {
  for (auto [fd, role] : {std::pair{client_fd, "client"}, std::pair{backend_fd, "backend"}}) {
    auto state = tcp_state(fd);
    if (!state.ok()) {
      return failure(InsertFailureKind::not_established,
                     fmt::format("sockmap: the {} socket is not a TCP socket ({}): forward it in "
                                 "userspace",
                                 role, state.error().message));
    }
    if (*state != kTcpEstablished) {
      return failure(InsertFailureKind::not_established,
                     fmt::format("sockmap: the {} socket (fd {}) is not ESTABLISHED (TCP state "
                                 "{}): only established sockets can be forwarded in the kernel; "
                                 "forward it in userspace",
                                 role, fd, *state));
    }
  }
  return std::nullopt;
}

// The pair's cookies and stream bases. The bases are read before the
// sockets enter the sockhash: from then on redirects add to the streams too.
InsertResult describe_pair(int client_fd, int backend_fd) {
  auto client_cookie = socket_cookie(client_fd);
  if (!client_cookie.ok()) return failure(InsertFailureKind::other, client_cookie.error().message);
  auto backend_cookie = socket_cookie(backend_fd);
  if (!backend_cookie.ok()) {
    return failure(InsertFailureKind::other, backend_cookie.error().message);
  }
  SockPair pair{client_fd, backend_fd, *client_cookie, *backend_cookie};
  for (auto [fd, base] : {std::pair{client_fd, &pair.client_written_base},
                          std::pair{backend_fd, &pair.backend_written_base}}) {
    auto written = stream_bytes_written(fd);
    if (!written.ok())
      return failure(InsertFailureKind::other, "sockmap: " + written.error().message);
    *base = *written;
  }
  for (auto [fd, base] : {std::pair{client_fd, &pair.client_read_base},
                          std::pair{backend_fd, &pair.backend_read_base}}) {
    auto read = stream_bytes_read(fd);
    if (!read.ok()) return failure(InsertFailureKind::other, "sockmap: " + read.error().message);
    *base = *read;
  }
  return pair;
}

// Each direction's control (limit = queue_cap, consumed = 0) and state,
// then both peer entries.
std::optional<InsertFailure> add_side_entries(MapEntries& entries, const Sockmap::MapFds& maps,
                                              const SockPair& pair, std::uint64_t queue_cap) {
  const sniproxy_sockmap_control control{queue_cap, 0};
  const sniproxy_sockmap_state state{};
  const std::uint64_t client = pair.client_cookie;
  const std::uint64_t backend = pair.backend_cookie;
  for (const std::uint64_t cookie : {client, backend}) {
    if (auto failed = entries.add(maps.control, "the control entry", cookie, &control)) {
      return failed;
    }
    if (auto failed = entries.add(maps.state, "the state entry", cookie, &state)) return failed;
  }
  if (auto failed = entries.add(maps.peers, "the client's peer entry", client, &backend)) {
    return failed;
  }
  return entries.add(maps.peers, "the backend's peer entry", backend, &client);
}

// Backend first: once the client is in, its bytes are redirected to it.
std::optional<InsertFailure> add_sockets(MapEntries& entries, const Sockmap::MapFds& maps,
                                         const SockPair& pair) {
  const std::uint32_t backend_value = static_cast<std::uint32_t>(pair.backend_fd);
  if (auto failed = entries.add(maps.sockets, "the backend socket to the sockhash",
                                pair.backend_cookie, &backend_value)) {
    return failed;
  }
  const std::uint32_t client_value = static_cast<std::uint32_t>(pair.client_fd);
  return entries.add(maps.sockets, "the client socket to the sockhash", pair.client_cookie,
                     &client_value);
}

// Bytes queued before the insert wait for a data_ready that may never
// come: the peeked hello on the client, and on the backend whatever a
// server that speaks first (a greeting, a banner) sent before the insert.
// Changing SO_RCVLOWAT calls data_ready, so they are judged now; the
// backend first, so its bytes are not behind anything the client's
// redirect makes it answer.
std::optional<InsertFailure> judge_queued_bytes(int client_fd, int backend_fd) {
  int one = 1;
  for (auto [fd, role] : {std::pair{backend_fd, "backend"}, std::pair{client_fd, "client"}}) {
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one) != 0) {
      return failure(InsertFailureKind::other,
                     fmt::format("sockmap: setsockopt(SO_RCVLOWAT) on the {} socket: {}", role,
                                 std::strerror(errno)));
    }
  }
  return std::nullopt;
}

}  // namespace

InsertResult Sockmap::insert(int client_fd, int backend_fd, std::uint64_t queue_cap) {
  if (auto failed = check_established(client_fd, backend_fd)) return *failed;
  const InsertResult described = describe_pair(client_fd, backend_fd);
  if (!described) return described;
  const SockPair& pair = *described;
  MapEntries entries(max_sockets_);  // undoes every write below unless committed
  // Side maps first: when the verdict first runs it must find them.
  if (auto failed = add_side_entries(entries, maps_, pair, queue_cap)) return *failed;
  if (auto failed = add_sockets(entries, maps_, pair)) return *failed;
  if (auto failed = judge_queued_bytes(client_fd, backend_fd)) return *failed;
  entries.commit();
  return pair;
}

void Sockmap::remove(const SockPair& pair) {
  // The sockhash first, so the verdict stops judging the pair before its
  // side entries disappear (without them it would pass bytes up).
  for (std::uint64_t cookie : {pair.client_cookie, pair.backend_cookie}) {
    bpf_delete_elem(maps_.sockets, &cookie);
  }
  for (int map_fd : {maps_.peers, maps_.state, maps_.control}) {
    for (std::uint64_t cookie : {pair.client_cookie, pair.backend_cookie}) {
      bpf_delete_elem(map_fd, &cookie);  // ENOENT on the second call: fine
    }
  }
}

namespace {

std::uint64_t source_cookie(const SockPair& pair, Direction direction) {
  return direction == Direction::client_to_backend ? pair.client_cookie : pair.backend_cookie;
}

int peer_fd(const SockPair& pair, Direction direction) {
  return direction == Direction::client_to_backend ? pair.backend_fd : pair.client_fd;
}

std::string_view name(Direction direction) {
  return direction == Direction::client_to_backend ? "client_to_backend" : "backend_to_client";
}

}  // namespace

Result<ForwardState> Sockmap::state(const SockPair& pair, Direction direction) const {
  std::uint64_t cookie = source_cookie(pair, direction);
  sniproxy_sockmap_state value{};
  if (bpf_lookup_elem(maps_.state, &cookie, &value) != 0) {
    return make_error(
        fmt::format("sockmap: no state for {} of socket cookie {}: {} (not inserted?)",
                    name(direction), cookie, std::strerror(errno)));
  }
  return ForwardState{value.redirected, value.passed,    value.unpaired,
                      value.trimmed,    value.untrimmed, value.over != 0};
}

Result<ForwardControl> Sockmap::control(const SockPair& pair, Direction direction) const {
  std::uint64_t cookie = source_cookie(pair, direction);
  sniproxy_sockmap_control value{};
  if (bpf_lookup_elem(maps_.control, &cookie, &value) != 0) {
    return make_error(
        fmt::format("sockmap: no control for {} of socket cookie {}: {} (not inserted?)",
                    name(direction), cookie, std::strerror(errno)));
  }
  return ForwardControl{value.limit, value.consumed};
}

Result<bool> Sockmap::set_control(const SockPair& pair, Direction direction,
                                  const ForwardControl& control) {
  std::uint64_t cookie = source_cookie(pair, direction);
  sniproxy_sockmap_control value{control.limit, control.consumed};
  // BPF_EXIST: never recreate the entry of a pair that was removed.
  if (bpf_update_elem(maps_.control, &cookie, &value, BPF_EXIST) != 0) {
    return make_error(
        fmt::format("sockmap: cannot set control for {} of socket cookie {}: {} (not inserted?)",
                    name(direction), cookie, std::strerror(errno)));
  }
  return true;
}

Result<std::uint64_t> Sockmap::forwarded_bytes(const SockPair& pair, Direction direction,
                                               std::optional<bool> fin_queued) const {
  auto written = stream_bytes_written(peer_fd(pair, direction), fin_queued);
  if (!written.ok()) return make_error("sockmap: " + written.error().message);
  std::uint64_t base = direction == Direction::client_to_backend ? pair.backend_written_base
                                                                 : pair.client_written_base;
  return *written > base ? *written - base : 0;
}

Result<std::uint64_t> Sockmap::unflushed(const SockPair& pair, Direction direction) const {
  // Peer first: its stream only grows, so reading it before the counters
  // errs towards "not yet flushed".
  auto since_insert = forwarded_bytes(pair, direction);
  if (!since_insert.ok()) return since_insert.error();
  auto current = state(pair, direction);
  if (!current.ok()) return current.error();
  auto allowed = control(pair, direction);
  if (!allowed.ok()) return allowed.error();
  return unflushed_bytes(current->redirected, allowed->consumed, *since_insert);
}

Result<bool> Sockmap::drained(const SockPair& pair, Direction direction) const {
  int source = direction == Direction::client_to_backend ? pair.client_fd : pair.backend_fd;
  std::uint64_t read_base =
      direction == Direction::client_to_backend ? pair.client_read_base : pair.backend_read_base;
  // tcpi_bytes_received counts the FIN's sequence number too: poll for it
  // first, so a FIN arriving between the two calls reads as "not drained".
  pollfd hangup{source, POLLRDHUP, 0};
  if (::poll(&hangup, 1, 0) < 0) {
    return make_error(fmt::format("sockmap: poll on fd {}: {}", source, std::strerror(errno)));
  }
  std::uint64_t fin = (hangup.revents & POLLRDHUP) != 0 ? 1 : 0;
  auto received = tcp_counters(source);
  if (!received.ok()) return make_error("sockmap: " + received.error().message);
  auto left = unflushed(pair, direction);
  if (!left.ok()) return left.error();
  auto current = state(pair, direction);
  if (!current.ok()) return current.error();
  if (current->untrimmed != 0) {
    return make_error(
        fmt::format("sockmap: {} is broken: {} bytes of a retransmit that overlapped "
                    "bytes already forwarded could not be cut off",
                    name(direction), current->untrimmed));
  }
  auto allowed = control(pair, direction);
  if (!allowed.ok()) return allowed.error();
  std::uint64_t judged = current->redirected + current->passed;
  return received->bytes_received - read_base == judged + fin &&
         current->passed == allowed->consumed && *left == 0;
}

}  // namespace sniproxy::bpf
