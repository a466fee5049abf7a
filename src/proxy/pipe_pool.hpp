#pragma once
// A worker's bounded pool of pipes for splice forwarding. A direction holds a
// pipe only while bytes are on their way through it; an idle connection
// holds none, so the pool bounds the pipes (and their kernel pages) by the
// directions transferring at once, not by the connections open.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace sniproxy::proxy {

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

class PipePool {
 public:
  // `pipe_size` is asked of the kernel with F_SETPIPE_SZ; `max_pipes` bounds
  // the pipes in use and idle together.
  PipePool(std::uint32_t pipe_size, std::uint32_t max_pipes);

  // An empty pipe, or an error: errno text when pipe2 fails (EMFILE,
  // ENFILE), "exhausted" when `max_pipes` are in use.
  Result<std::unique_ptr<Pipe>> acquire();
  // Takes back an EMPTY pipe for reuse. A pipe that may still hold bytes
  // must be dropped instead (destroying it closes it).
  void release(std::unique_ptr<Pipe> pipe);
  // A pipe that was acquired and is being destroyed rather than released.
  void forget(std::unique_ptr<Pipe> pipe);

  [[nodiscard]] bool exhausted() const { return in_use_ >= max_pipes_ && idle_.empty(); }
  [[nodiscard]] std::size_t in_use() const { return in_use_; }
  [[nodiscard]] std::size_t idle() const { return idle_.size(); }
  [[nodiscard]] std::uint32_t pipe_size() const { return pipe_size_; }

 private:
  std::uint32_t pipe_size_;
  std::uint32_t max_pipes_;
  std::size_t in_use_ = 0;
  bool resize_failure_logged_ = false;
  std::vector<std::unique_ptr<Pipe>> idle_;
};

}  // namespace sniproxy::proxy
