#include "bpf/sockmap/sockmap.hpp"

#include <bcc/libbpf.h>
#include <linux/bpf.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <tuple>
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
       {std::pair{&MapFds::sockets, "sock_pairs"}, std::pair{&MapFds::links, "pair_of"},
        std::pair{&MapFds::slots, "sockmap_slots"}}) {
    auto fd = find_map(bpf, name);
    if (!fd.ok()) return fd.error();
    map->maps_.*field = *fd;
  }
  auto slots = SlotTable::map(map->maps_.slots, options.max_sockets);
  if (!slots.ok()) return slots.error();
  map->slots_ = std::move(*slots);
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
    // Newest first. NOLINTNEXTLINE below: clang-tidy 14 fails on reverse_view.
    // NOLINTNEXTLINE(modernize-loop-convert)
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

// The pair's cookies and stream bases, and a refusal unless both sockets
// are ESTABLISHED TCP sockets (only those can be inserted, docs/kernel.md).
// The bases are read before the sockets enter the sockhash: from then on
// redirects add to the streams too.
InsertResult describe_pair(int client_fd, int backend_fd) {
  SockPair pair{client_fd, backend_fd};
  for (auto [fd, role, written, read] :
       {std::tuple{client_fd, "client", &pair.client_written_base, &pair.client_read_base},
        std::tuple{backend_fd, "backend", &pair.backend_written_base, &pair.backend_read_base}}) {
    auto bases = stream_bases(fd);
    if (!bases.ok()) {
      return failure(InsertFailureKind::not_established,
                     fmt::format("sockmap: the {} socket is not a TCP socket ({}): forward it in "
                                 "userspace",
                                 role, bases.error().message));
    }
    if (bases->state != kTcpEstablished) {
      return failure(InsertFailureKind::not_established,
                     fmt::format("sockmap: the {} socket (fd {}) is not ESTABLISHED (TCP state "
                                 "{}): only established sockets can be forwarded in the kernel; "
                                 "forward it in userspace",
                                 role, fd, bases->state));
    }
    *written = bases->written;
    *read = bases->read;
  }
  auto client_cookie = socket_cookie(client_fd);
  if (!client_cookie.ok()) return failure(InsertFailureKind::other, client_cookie.error().message);
  auto backend_cookie = socket_cookie(backend_fd);
  if (!backend_cookie.ok()) {
    return failure(InsertFailureKind::other, backend_cookie.error().message);
  }
  pair.client_cookie = *client_cookie;
  pair.backend_cookie = *backend_cookie;
  return pair;
}

// The slots an insert took, given back unless committed.
class TakenSlots {
 public:
  explicit TakenSlots(SlotTable& slots) : slots_(slots) {}
  TakenSlots(const TakenSlots&) = delete;
  TakenSlots& operator=(const TakenSlots&) = delete;
  ~TakenSlots() {
    for (auto [slot, cookie] : taken_) slots_.give_back(slot, cookie);
  }
  std::optional<std::uint32_t> take(std::uint64_t cookie, std::uint64_t limit) {
    auto slot = slots_.take(cookie, limit);
    if (slot) taken_.emplace_back(*slot, cookie);
    return slot;
  }
  void commit() { taken_.clear(); }

 private:
  SlotTable& slots_;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> taken_;  // slot, cookie
};

// Both pair_of entries: each socket's peer and slot.
std::optional<InsertFailure> add_links(MapEntries& entries, const Sockmap::MapFds& maps,
                                       const SockPair& pair) {
  const sniproxy_sockmap_link client{pair.backend_cookie, pair.client_slot, 0};
  const sniproxy_sockmap_link backend{pair.client_cookie, pair.backend_slot, 0};
  if (auto failed =
          entries.add(maps.links, "the client's pair entry", pair.client_cookie, &client)) {
    return failed;
  }
  return entries.add(maps.links, "the backend's pair entry", pair.backend_cookie, &backend);
}

// Backend first: once the client is in, its bytes are redirected to it.
std::optional<InsertFailure> add_sockets(MapEntries& entries, const Sockmap::MapFds& maps,
                                         const SockPair& pair) {
  const auto backend_value = static_cast<std::uint32_t>(pair.backend_fd);
  if (auto failed = entries.add(maps.sockets, "the backend socket to the sockhash",
                                pair.backend_cookie, &backend_value)) {
    return failed;
  }
  const auto client_value = static_cast<std::uint32_t>(pair.client_fd);
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
  InsertResult described = describe_pair(client_fd, backend_fd);
  if (!described) return described;
  SockPair pair = *described;
  TakenSlots slots(*slots_);  // given back unless committed, after the entries go
  for (auto [cookie, slot] : {std::pair{pair.client_cookie, &pair.client_slot},
                              std::pair{pair.backend_cookie, &pair.backend_slot}}) {
    auto taken = slots.take(cookie, queue_cap);
    if (!taken) {
      // Full, or is it a socket that is forwarded already (which says so
      // when there is room)? Only this rare path looks.
      sniproxy_sockmap_link link{};
      std::uint64_t key = cookie;
      if (bpf_lookup_elem(maps_.links, &key, &link) == 0) {
        return failure(InsertFailureKind::other,
                       "sockmap: cannot add the socket: it is already forwarded (remove its pair "
                       "first)");
      }
      return map_write_failure("a slot", ENOSPC, max_sockets_);
    }
    *slot = *taken;
  }
  MapEntries entries(max_sockets_);  // undoes every write below unless committed
  // The slots and links first: when the verdict first runs it must find them.
  if (auto failed = add_links(entries, maps_, pair)) return *failed;
  if (auto failed = add_sockets(entries, maps_, pair)) return *failed;
  if (auto failed = judge_queued_bytes(client_fd, backend_fd)) return *failed;
  entries.commit();
  slots.commit();
  return pair;
}

void Sockmap::delete_both(int map_fd, std::atomic<bool>& batch_works, std::uint64_t first,
                          std::uint64_t second) {
  std::uint64_t keys[2] = {first, second};
  if (batch_works.load(std::memory_order_relaxed)) {
    __u32 count = 2;
    if (bpf_delete_batch(map_fd, keys, &count) == 0) return;
    // A map type without batch operations says so once; anything else
    // (ENOENT: a key already gone, which stops the batch) is retried below.
    if (errno == EINVAL || errno == EOPNOTSUPP /* = ENOTSUP */ || errno == 524 /* ENOTSUPP */)
      batch_works.store(false, std::memory_order_relaxed);
  }
  for (std::uint64_t key : keys) bpf_delete_elem(map_fd, &key);  // ENOENT: already gone, fine
}

void Sockmap::remove(const SockPair& pair) {
  // The sockhash first, so the verdict stops judging the pair before its
  // links and slots go (without them it would pass bytes up).
  delete_both(maps_.sockets, sockets_batch_, pair.client_cookie, pair.backend_cookie);
  remove_before_close(pair);
}

void Sockmap::remove_before_close(const SockPair& pair) {
  delete_both(maps_.links, links_batch_, pair.client_cookie, pair.backend_cookie);
  slots_->give_back(pair.client_slot, pair.client_cookie);
  slots_->give_back(pair.backend_slot, pair.backend_cookie);
}

namespace {

std::uint64_t source_cookie(const SockPair& pair, Direction direction) {
  return direction == Direction::client_to_backend ? pair.client_cookie : pair.backend_cookie;
}

std::uint32_t source_slot(const SockPair& pair, Direction direction) {
  return direction == Direction::client_to_backend ? pair.client_slot : pair.backend_slot;
}

int source_fd(const SockPair& pair, Direction direction) {
  return direction == Direction::client_to_backend ? pair.client_fd : pair.backend_fd;
}

int peer_fd(const SockPair& pair, Direction direction) {
  return direction == Direction::client_to_backend ? pair.backend_fd : pair.client_fd;
}

std::uint64_t peer_written_base(const SockPair& pair, Direction direction) {
  return direction == Direction::client_to_backend ? pair.backend_written_base
                                                   : pair.client_written_base;
}

std::string_view name(Direction direction) {
  return direction == Direction::client_to_backend ? "client_to_backend" : "backend_to_client";
}

Error not_inserted(std::string_view what, const SockPair& pair, Direction direction) {
  return make_error(fmt::format("sockmap: no {} for {} of socket cookie {} (not inserted?)", what,
                                name(direction), source_cookie(pair, direction)));
}

}  // namespace

Result<ForwardState> Sockmap::state(const SockPair& pair, Direction direction) const {
  const std::uint32_t slot = source_slot(pair, direction);
  ForwardState value = slots_->state(slot);
  // Read, then check the slot is still this socket's: a pair removed (and
  // its slot reused) meanwhile reads as an error, never as another's counts.
  if (!slots_->owned_by(slot, source_cookie(pair, direction)))
    return not_inserted("state", pair, direction);
  return value;
}

Result<ForwardControl> Sockmap::control(const SockPair& pair, Direction direction) const {
  const std::uint32_t slot = source_slot(pair, direction);
  ForwardControl value = slots_->control(slot);
  if (!slots_->owned_by(slot, source_cookie(pair, direction)))
    return not_inserted("control", pair, direction);
  return value;
}

Result<bool> Sockmap::set_control(const SockPair& pair, Direction direction,
                                  const ForwardControl& control) {
  const std::uint32_t slot = source_slot(pair, direction);
  // Never write the slot of a pair that was removed: it may be another's.
  // (Only this pair's owner removes it, so the check cannot go stale.)
  if (!slots_->owned_by(slot, source_cookie(pair, direction)))
    return not_inserted("control", pair, direction);
  slots_->set_control(slot, control);
  return true;
}

Result<std::uint64_t> Sockmap::forwarded_bytes(const SockPair& pair, Direction direction,
                                               std::optional<bool> fin_queued) {
  auto written = stream_bytes_written(peer_fd(pair, direction), fin_queued);
  if (!written.ok()) return make_error("sockmap: " + written.error().message);
  const std::uint64_t base = peer_written_base(pair, direction);
  return *written > base ? *written - base : 0;
}

Result<DirectionCounts> Sockmap::counts(const SockPair& pair, Direction direction,
                                        bool with_received) const {
  DirectionCounts counts;
  if (with_received) {
    auto received = tcp_counters(source_fd(pair, direction));
    if (!received.ok()) return make_error("sockmap: " + received.error().message);
    const std::uint64_t base =
        direction == Direction::client_to_backend ? pair.client_read_base : pair.backend_read_base;
    counts.received = received->bytes_received - base;
  }
  // The peer before the slot: its stream only grows, so reading it first
  // errs towards "not yet flushed".
  auto forwarded = forwarded_bytes(pair, direction);
  if (!forwarded.ok()) return forwarded.error();
  counts.forwarded = *forwarded;
  auto current = state(pair, direction);
  if (!current.ok()) return current.error();
  auto allowed = control(pair, direction);
  if (!allowed.ok()) return allowed.error();
  counts.state = *current;
  counts.control = *allowed;
  return counts;
}

Result<bool> Sockmap::drained(const SockPair& pair, Direction direction) const {
  const int source = source_fd(pair, direction);
  // tcpi_bytes_received counts the FIN's sequence number too: poll for it
  // first, so a FIN arriving between the two reads as "not drained".
  pollfd hangup{source, POLLRDHUP, 0};
  if (::poll(&hangup, 1, 0) < 0) {
    return make_error(fmt::format("sockmap: poll on fd {}: {}", source, std::strerror(errno)));
  }
  auto now = counts(pair, direction, true);
  if (!now.ok()) return now.error();
  if (now->state.untrimmed != 0) {
    return make_error(
        fmt::format("sockmap: {} is broken: {} bytes of a retransmit that overlapped "
                    "bytes already forwarded could not be cut off",
                    name(direction), now->state.untrimmed));
  }
  return all_forwarded(now->state, now->control, now->forwarded, now->received,
                       (hangup.revents & POLLRDHUP) != 0);
}

Result<std::uint64_t> Sockmap::unflushed(const SockPair& pair, Direction direction) const {
  auto now = counts(pair, direction, false);
  if (!now.ok()) return now.error();
  return unflushed_bytes(now->state.redirected, now->control.consumed, now->forwarded);
}

}  // namespace sniproxy::bpf
