#pragma once
// Splice forwarding: socket -> pipe -> socket with splice(2), so the bytes
// never enter userspace. The splices are made on the worker's thread, not as
// io_uring operations: IORING_OP_SPLICE always runs on an io-wq thread, two
// thread hand-offs per chunk, which measured dearer (docs/design-notes.md).
// The direction polls its source (an idle connection holds no pipe), then
// moves what is there through a pipe from the worker's pool to the peer
// (polling the peer for POLLOUT when its send buffer is full), returns the
// empty pipe and polls again. Both sockets are non-blocking and every splice
// carries SPLICE_F_NONBLOCK, so no call waits.
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/forward/forwarder.hpp"

namespace sniproxy::proxy::forward {

class SpliceForwarder final : public Forwarder {
 public:
  // `preamble` (a PROXY header) is sent to the peer before the first splice.
  // `poll_first`: the source holds nothing yet (a backend just connected, a
  // direction handed over by copy), so wait for it rather than try a splice.
  SpliceForwarder(Host& host, int from, int to, std::vector<std::uint8_t> preamble,
                  bool poll_first);
  [[nodiscard]] Mode mode() const override { return Mode::splice; }
  void start() override;
  void on_complete(Side side, const reactor::Event& event) override;
  void resume() override;
  void stop() override;
  [[nodiscard]] std::uint64_t bytes_moved() const override { return bytes_; }

 private:
  void wait_readable();
  bool take_pipe();
  void pump();
  void return_pipe();

  Host& host_;
  int from_;
  int to_;
  std::vector<std::uint8_t> preamble_;
  std::size_t preamble_sent_ = 0;
  bool poll_first_;
  std::unique_ptr<Pipe> pipe_;  // held while bytes pass through it
  std::size_t in_pipe_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace sniproxy::proxy::forward
