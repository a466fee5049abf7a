#pragma once
// The ClientHello of a QUIC connection, read from the client's Initial
// datagrams without terminating anything: the entry point of src/protocol/
// quic/. The first datagram decides whether a flow is worth any state
// (read_first_initial); later datagrams of the same flow are fed until the
// whole ClientHello is in, however the client split, reordered or spread
// its CRYPTO frames. Pure: bytes in, a result out, no I/O.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "protocol/client_hello.hpp"
#include "protocol/parse_status.hpp"
#include "protocol/quic/crypto_assembler.hpp"
#include "protocol/quic/initial_packet.hpp"
#include "protocol/quic/quic_hello_error.hpp"

namespace sniproxy::protocol::quic {

inline constexpr std::size_t kMinInitialDatagram = 1200;  // RFC 9000 14.1
inline constexpr std::size_t kMinInitialDcid = 8;         // RFC 9000 7.2

struct QuicHelloInfo {
  ClientHelloInfo hello;  // server_name, alpn, ... as on TCP
  std::uint32_t version = 0;
  // The client's max_idle_timeout transport parameter (ms); see
  // transport_parameters.hpp for what nullopt and 0 mean.
  std::optional<std::uint64_t> max_idle_timeout_ms;
};

class QuicHelloReader;
struct QuicHelloStart;

// Reads a datagram that may open a new flow. A reader exists only if the
// datagram is >= 1200 bytes, starts with an Initial of a known version whose
// tag verifies, and its frames are sound; otherwise `error` says why and
// nothing needs to be kept. The reader returned is done or need_more.
QuicHelloStart read_first_initial(std::span<const std::uint8_t> datagram,
                                  std::size_t max_hello_size);

class QuicHelloReader {
 public:
  // Feeds a later datagram of the same flow (same client address). A
  // datagram that gives nothing authentic toward the hello (too short,
  // another DCID or version, a bad tag, no Initial at all) is ignored and
  // does not end the flow, since anyone can spoof one: last_ignored() says
  // why. Whether to keep such a datagram for the backend is the caller's
  // call. Bad frames or hellos in an authentic packet reject the flow.
  // Once done or rejected, feeds read nothing and return the same status.
  ParseStatus feed(std::span<const std::uint8_t> datagram);

  [[nodiscard]] ParseStatus status() const { return status_; }
  [[nodiscard]] const QuicHelloInfo& info() const { return info_; }  // valid once done
  [[nodiscard]] QuicHelloError error() const { return error_; }      // valid once rejected
  // Why the last datagram fed was ignored; nullopt if it was read.
  [[nodiscard]] std::optional<QuicHelloError> last_ignored() const { return last_ignored_; }
  // The original Destination Connection ID: the flow's key for its keys.
  [[nodiscard]] std::span<const std::uint8_t> dcid() const { return flow_.dcid; }
  [[nodiscard]] std::uint32_t version() const { return flow_.version->number; }

 private:
  friend QuicHelloStart read_first_initial(std::span<const std::uint8_t>, std::size_t);
  QuicHelloReader(InitialFlow flow, std::size_t max_hello_size)
      : flow_(std::move(flow)), crypto_(max_hello_size) {}

  // Reads the frames of opened payloads and finishes once the hello is in.
  ParseStatus take(const OpenedDatagram& opened);
  ParseStatus reject(QuicHelloError error);

  InitialFlow flow_;
  CryptoAssembler crypto_;
  ParseStatus status_ = ParseStatus::need_more;
  QuicHelloError error_ = QuicHelloError::internal;
  std::optional<QuicHelloError> last_ignored_;
  QuicHelloInfo info_;
};

struct QuicHelloStart {
  std::optional<QuicHelloReader> reader;            // set when the flow is worth keeping
  QuicHelloError error = QuicHelloError::internal;  // why not, when reader is unset
  // The long header's version field (0 without a long header): with
  // unknown_version, what the client asked for.
  std::uint32_t version = 0;
};

}  // namespace sniproxy::protocol::quic
