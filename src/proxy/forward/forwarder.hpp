#pragma once
// One direction of a connection (bytes from `from` to `to`) is moved by one
// Forwarder: copy, splice or sockmap. The connection does not know how the
// bytes move; a forwarder does not know the connection, only the Host it is
// given. A mode change (auto's copy -> splice, splice's copy fallback)
// replaces the direction's forwarder whole, through the Host, and never
// reaches into another mode's internals.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/pipe_pool.hpp"
#include "reactor/reactor.hpp"
#include "reactor/timer_queue.hpp"

namespace sniproxy::proxy::forward {

// A direction's two operation slots: one acts on the source, one on the
// peer. At most one operation is in flight in each.
enum class Side : std::uint8_t { source, peer };

// What a forwarder may be replaced by.
enum class Mode : std::uint8_t { copy, splice, sockmap };

// The direction's owner, as a forwarder sees it.
class Host {
 public:
  // The Completion of slot `side`, counted in flight until it completes;
  // its completion comes back through Forwarder::on_complete.
  virtual reactor::Completion* begin(Side side) = 0;
  virtual reactor::Reactor& reactor() = 0;
  virtual reactor::TimerQueue& timers() = 0;
  virtual PipePool& pipes() = 0;
  // Forwarder::resume() once a pool buffer, or a pipe, is free again.
  virtual void wait_for_buffer() = 0;
  virtual void wait_for_pipe() = 0;
  // Bytes moved: the connection is not idle.
  virtual void active() = 0;
  // The source reached its end and everything it sent is in the peer's
  // stream: the peer is shut down for writing.
  virtual void end_of_stream() = 0;
  // A socket failed (`reading`: the source, else the peer): reset both.
  virtual void failed(bool reading, int err) = 0;
  // Anything else that ends the connection: reset both, saying why.
  virtual void abort(std::string detail) = 0;
  // Replace this direction's forwarder by a fresh one of `next`, started at
  // once. The caller returns right after: it is destroyed later.
  virtual void change_mode(Mode next) = 0;
  // A receive took bytes from the source; `filled_buffer`: a whole buffer
  // (auto watches what the connection does, exchange_watch.hpp).
  virtual void received(bool filled_buffer) = 0;
  // The direction holds no bytes and has nothing in flight. True: it stays
  // so, reading nothing, until resume() or its replacement (auto moving the
  // connection to the sockmap); the caller returns right after.
  virtual bool at_rest() = 0;
  [[nodiscard]] virtual bool closing() const = 0;
  // For log lines: the connection and the direction (0: client -> backend).
  [[nodiscard]] virtual std::uint64_t connection_id() const = 0;
  [[nodiscard]] virtual int direction() const = 0;

 protected:
  ~Host() = default;
};

// What Forwarder::come_to_rest() found.
enum class Rest : std::uint8_t {
  now,   // at rest already: nothing in flight, no bytes held
  soon,  // its receive is being cancelled: Host::at_rest() comes next
  busy,  // bytes on their way to the peer, or a mode that cannot rest
};

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  [[nodiscard]] virtual Mode mode() const = 0;
  // Starts moving bytes (the direction may have moved some already).
  virtual void start() = 0;
  // A completion of slot `side`; also while the connection is closing, so a
  // forwarder can let go of what the operation delivered.
  virtual void on_complete(Side side, const reactor::Event& event) = 0;
  // What it waited for (a buffer, a pipe) is there again; or, at rest, go on.
  virtual void resume() = 0;
  // Asked to stop where it holds no bytes, so both directions can change
  // mode at once with nothing to reorder.
  virtual Rest come_to_rest() { return Rest::busy; }
  // The connection is ending: give back what is held (buffers, pipes,
  // timers, kernel state). Called once; no operation is started after it.
  virtual void stop() = 0;
  // Bytes taken from the source since this forwarder started.
  [[nodiscard]] virtual std::uint64_t bytes_moved() const = 0;
  // Whether bytes moved out of the proxy's sight (in the kernel) since the
  // last call: the idle sweep counts that as activity.
  virtual bool moved_unseen() { return false; }
};

}  // namespace sniproxy::proxy::forward
