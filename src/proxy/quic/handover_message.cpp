#include "proxy/quic/handover_message.hpp"

#include <algorithm>

namespace sniproxy::proxy::quic {

namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kEndpointBytes = 19;

void put_endpoint(std::vector<std::uint8_t>& out, const Endpoint& e) {
  out.push_back(e.ip.family == Family::v6 ? 6 : 4);
  out.insert(out.end(), e.ip.bytes.begin(), e.ip.bytes.end());
  out.push_back(static_cast<std::uint8_t>(e.port >> 8));
  out.push_back(static_cast<std::uint8_t>(e.port & 0xff));
}

std::optional<Endpoint> get_endpoint(std::span<const std::uint8_t> in) {
  Endpoint e;
  if (in[0] == 4)
    e.ip.family = Family::v4;
  else if (in[0] == 6)
    e.ip.family = Family::v6;
  else
    return std::nullopt;
  std::copy_n(in.begin() + 1, e.ip.bytes.size(), e.ip.bytes.begin());
  e.port = static_cast<std::uint16_t>((in[17] << 8) | in[18]);
  return e;
}

}  // namespace

std::vector<std::uint8_t> encode_handed_datagram(const Endpoint& client, const Endpoint& local,
                                                 std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> out;
  out.reserve(kHandoverHeader + payload.size());
  out.push_back(static_cast<std::uint8_t>(HandoverKind::datagram));
  out.push_back(kVersion);
  put_endpoint(out, client);
  put_endpoint(out, local);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

std::vector<std::uint8_t> encode_successor() {
  return {static_cast<std::uint8_t>(HandoverKind::successor), kVersion};
}

std::optional<HandoverMessage> decode_handover(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 2 || bytes[1] != kVersion) return std::nullopt;
  HandoverMessage m;
  if (bytes[0] == static_cast<std::uint8_t>(HandoverKind::successor)) {
    m.kind = HandoverKind::successor;
    return m;
  }
  if (bytes[0] != static_cast<std::uint8_t>(HandoverKind::datagram) ||
      bytes.size() < kHandoverHeader)
    return std::nullopt;
  auto client = get_endpoint(bytes.subspan(2, kEndpointBytes));
  auto local = get_endpoint(bytes.subspan(2 + kEndpointBytes, kEndpointBytes));
  if (!client || !local) return std::nullopt;
  m.client = *client;
  m.local = *local;
  m.payload = bytes.subspan(kHandoverHeader);
  return m;
}

}  // namespace sniproxy::proxy::quic
