#include "protocol/quic/transport_parameters.hpp"

#include "protocol/byte_reader.hpp"
#include "protocol/quic/varint.hpp"

namespace sniproxy::protocol::quic {
namespace {

constexpr std::uint64_t kMaxIdleTimeout = 0x01;

}  // namespace

std::optional<std::uint64_t> max_idle_timeout_ms(std::span<const std::uint8_t> parameters) {
  ByteReader reader(parameters);
  std::optional<std::uint64_t> timeout;
  while (!reader.empty()) {
    auto id = read_varint(reader);
    auto size = id ? read_varint(reader) : std::nullopt;
    auto value = size ? reader.bytes(*size) : std::nullopt;
    if (!value) return std::nullopt;
    if (*id != kMaxIdleTimeout) continue;
    ByteReader value_reader(*value);
    auto ms = read_varint(value_reader);
    // RFC 9000 7.4: a parameter sent twice is an error, as is a value that
    // does not fill its parameter exactly.
    if (!ms || !value_reader.empty() || timeout) return std::nullopt;
    timeout = ms;
  }
  return timeout;
}

}  // namespace sniproxy::protocol::quic
