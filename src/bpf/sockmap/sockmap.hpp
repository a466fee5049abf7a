#pragma once
// Kernel forwarding of a client/backend socket pair through a BPF sockhash
// (bpf_c/sockmap.bpf.c), with a bound on the memory one direction may hold
// in the kernel (see sockmap_flow.hpp for the userspace duties and the .bpf.c
// for why no byte is reordered).
//
// Created once at start-up: read the few kernel struct offsets the verdict
// needs from the running kernel's BTF, compile, load, and attach the verdict
// (no stream parser and no sk_msg program, see sockmap.bpf.c) to the
// sockhash before any socket is inserted (docs/kernel.md). After that every member is const or
// makes only bpf()/socket syscalls on fds it owns or the caller passes, so worker threads may call
// it concurrently.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "bpf/loader/loader.hpp"
#include "bpf/sockmap/slot_table.hpp"
#include "bpf/sockmap/sockmap_flow.hpp"
#include "common/result.hpp"

namespace sniproxy::bpf {

struct SockmapOptions {
  // Sockets the maps hold (two per forwarded connection); -DSOCKMAP_MAX_SOCKETS.
  std::uint32_t max_sockets = 65536;
  LoadOptions load{};
  // The running kernel's BTF, for the few struct offsets the verdict reads.
  std::string btf_path = "/sys/kernel/btf/vmlinux";
};

// One inserted connection: what remove() and the per-direction calls need.
struct SockPair {
  int client_fd = -1;
  int backend_fd = -1;
  std::uint64_t client_cookie = 0;
  std::uint64_t backend_cookie = 0;
  // stream_bytes_written() of each socket at the insert: what the proxy
  // wrote itself before (e.g. a PROXY header), the base of unflushed().
  std::uint64_t client_written_base = 0;
  std::uint64_t backend_written_base = 0;
  // stream_bytes_read() of each socket at the insert: bytes userspace read
  // before; everything received after them is judged by the verdict.
  std::uint64_t client_read_base = 0;
  std::uint64_t backend_read_base = 0;
  // Each socket's slot (its state and control, slot_table.hpp).
  std::uint32_t client_slot = 0;
  std::uint32_t backend_slot = 0;
};

// A direction is named by the socket whose received bytes it carries.
enum class Direction {
  client_to_backend,  // source: client_fd, peer: backend_fd
  backend_to_client,  // source: backend_fd, peer: client_fd
};

// One direction read at once (Sockmap::counts()).
struct DirectionCounts {
  ForwardState state;
  ForwardControl control;
  std::uint64_t forwarded = 0;  // forwarded_bytes(): in the peer's stream since the insert
  std::uint64_t received = 0;   // by the source since the insert, a FIN as 1 (when asked)
};

enum class InsertFailureKind {
  not_established,  // a socket is not ESTABLISHED: forward this one in userspace
  map_full,         // the maps hold max_sockets: raise it or forward in userspace
  unsupported,      // the kernel refused the socket (e.g. kTLS, already in a map)
  other,
};
std::string_view to_string(InsertFailureKind kind);

struct InsertFailure {
  InsertFailureKind kind = InsertFailureKind::other;
  std::string message;  // names the cause and what to do
};

// insert()'s outcome: the pair, or why not (nothing is left in the maps then).
class InsertResult {
 public:
  InsertResult(SockPair pair) : v_(pair) {}                        // NOLINT: implicit by design
  InsertResult(InsertFailure failure) : v_(std::move(failure)) {}  // NOLINT
  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  [[nodiscard]] const SockPair& pair() const { return std::get<0>(v_); }
  const SockPair& operator*() const { return pair(); }
  const SockPair* operator->() const { return &pair(); }
  [[nodiscard]] const InsertFailure& error() const { return std::get<1>(v_); }

 private:
  std::variant<SockPair, InsertFailure> v_;
};

class Sockmap {
 public:
  static Result<std::unique_ptr<Sockmap>> create(const SockmapOptions& options = {});
  ~Sockmap();
  Sockmap(const Sockmap&) = delete;
  Sockmap& operator=(const Sockmap&) = delete;

  // Hands both sockets to the kernel (docs/kernel.md's race-free order): checks
  // both are ESTABLISHED, takes a slot for each (control: limit = queue_cap,
  // consumed = 0; state zeroed), writes both pair_of entries, inserts the
  // backend, then the client, then sets SO_RCVLOWAT 1 on both (backend
  // first) so bytes they already hold (a ClientHello only MSG_PEEKed, a
  // server's greeting) take the redirect path, first and in order. Undoes
  // everything on failure. The fds stay the caller's.
  InsertResult insert(int client_fd, int backend_fd, std::uint64_t queue_cap);

  // Takes both sockets out of the sockhash and pair_of (a batch delete
  // where the map has one) and frees their slots; safe to call twice. Teardown only: the kernel
  // discards what it still queues for the pair (passed bytes not yet recv()ed, redirected bytes not
  // yet sent), so call it when closing, or after both directions have drained.
  void remove(const SockPair& pair);
  // remove() for a caller that closes both sockets right after: the close
  // takes each out of the sockhash (the kernel's sock_map_close), so only
  // pair_of and the slots are cleared here, two bpf() calls fewer. Until
  // the close the verdict finds no link and passes bytes up.
  void remove_before_close(const SockPair& pair);

  // One direction's counters and limits: memory reads and writes (the
  // slots are mapped), no system call. An error once the pair was removed.
  [[nodiscard]] Result<ForwardState> state(const SockPair& pair, Direction direction) const;
  [[nodiscard]] Result<ForwardControl> control(const SockPair& pair, Direction direction) const;
  Result<bool> set_control(const SockPair& pair, Direction direction,
                           const ForwardControl& control);

  // Bytes of `direction` that entered the peer's TCP stream since the
  // insert, redirected and passed alike (stream_bytes_written of the peer
  // minus its base): what the access log reports for the direction.
  // `fin_queued`: whether the caller shut the peer's writing side down (see
  // stream_bytes_written; a socket that reached CLOSED needs it said).
  [[nodiscard]] static Result<std::uint64_t> forwarded_bytes(
      const SockPair& pair, Direction direction, std::optional<bool> fin_queued = std::nullopt);
  // Bytes of `direction` (redirected + control.consumed) not yet in the
  // peer's TCP stream, from TCP's own counters (sockmap_flow.hpp). 0 means:
  // userspace may send passed bytes to the peer without overtaking
  // redirected ones; or, after POLLRDHUP on the source, everything received
  // is on its way and the peer may be shut down for writing.
  [[nodiscard]] Result<std::uint64_t> unflushed(const SockPair& pair, Direction direction) const;

  // Whether every byte the source received has reached the peer's TCP
  // stream (all_forwarded() over counts(), with POLLRDHUP polled first).
  // Meaningful once the source showed POLLRDHUP (no more bytes can come):
  // then shutdown(peer, SHUT_WR) puts the FIN after the last byte. An error
  // for a stream that broke (an overlap that could not be cut).
  [[nodiscard]] Result<bool> drained(const SockPair& pair, Direction direction) const;

  // The direction's counters in one go, in the order that makes each race
  // err towards "not yet": the source's received bytes (with_received; one
  // TCP_INFO), the peer's stream (one TCP_INFO, SIOCOUTQ only if something is
  // in flight), then the slot. all_forwarded() over them, with POLLRDHUP
  // polled before, says whether the peer may be shut down after the last
  // byte.
  [[nodiscard]] Result<DirectionCounts> counts(const SockPair& pair, Direction direction,
                                               bool with_received) const;

  // Start-up cost: the clang compile of sockmap.bpf.c, and compile + load +
  // attach in all (logged once by create()).
  [[nodiscard]] std::chrono::milliseconds compile_time() const { return compile_time_; }
  [[nodiscard]] std::chrono::milliseconds startup_time() const { return startup_time_; }
  [[nodiscard]] std::uint32_t max_sockets() const { return max_sockets_; }

  // The map fds (owned here), for tests and diagnostics.
  struct MapFds {
    int sockets = -1;  // sock_pairs (sockhash, cookie -> socket)
    int links = -1;    // pair_of (cookie -> peer cookie, slot)
    int slots = -1;    // sockmap_slots (array, mapped: slot_table.hpp)
  };
  [[nodiscard]] const MapFds& maps() const { return maps_; }

 private:
  Sockmap() = default;

  // Deletes `keys` from `map_fd`, in one batch while the map takes them.
  static void delete_both(int map_fd, std::atomic<bool>& batch_works, std::uint64_t first,
                          std::uint64_t second);

  std::unique_ptr<Module> module_;
  Attachment verdict_;
  MapFds maps_;
  std::unique_ptr<SlotTable> slots_;
  std::atomic<bool> sockets_batch_{true};  // BPF_MAP_DELETE_BATCH works on the sockhash
  std::atomic<bool> links_batch_{true};    // and on pair_of
  std::uint32_t max_sockets_ = 0;
  std::chrono::milliseconds compile_time_{0};
  std::chrono::milliseconds startup_time_{0};
};

}  // namespace sniproxy::bpf
