#include <algorithm>

#include "protocol/byte_reader.hpp"
#include "protocol/proxy_protocol.hpp"
#include "protocol/proxy_protocol_v2.hpp"

namespace sniproxy::protocol {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::size_t kV1MaxLine = 107;  // the spec's worst case, CRLF included

// Decimal 0..65535 without leading zeros, as the spec requires.
std::optional<std::uint16_t> parse_v1_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::optional<ProxyHeader> parse_v1(std::string_view text) {
  const auto end = text.substr(0, kV1MaxLine).find("\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view line = text.substr(kV1Prefix.size(), end - kV1Prefix.size());
  ProxyHeader header;
  header.version = 1;
  header.size = end + 2;
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) {
    header.local = true;
    return header;
  }
  std::string_view fields[5];
  for (int i = 0; i < 5; ++i) {
    const auto space = line.find(' ');
    if ((space == std::string_view::npos) != (i == 4)) return std::nullopt;
    fields[i] = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
  }
  Family family;
  if (fields[0] == "TCP4")
    family = Family::v4;
  else if (fields[0] == "TCP6")
    family = Family::v6;
  else
    return std::nullopt;
  auto src = IpAddress::parse(fields[1]);
  auto dst = IpAddress::parse(fields[2]);
  auto sport = parse_v1_port(fields[3]);
  auto dport = parse_v1_port(fields[4]);
  if (!src || !dst || !sport || !dport || src->family != family || dst->family != family)
    return std::nullopt;
  header.source = Endpoint{*src, *sport};
  header.destination = Endpoint{*dst, *dport};
  return header;
}

std::size_t address_block_size(std::uint8_t family_and_transport) {
  switch (family_and_transport >> 4) {
    case 0x1:
      return proxy_v2::kIpv4AddressBlock;
    case 0x2:
      return proxy_v2::kIpv6AddressBlock;
    case 0x3:
      return 216;  // AF_UNIX: two 108-byte paths
    default:
      return 0;
  }
}

Endpoint read_endpoint(std::span<const std::uint8_t> address, std::span<const std::uint8_t> port,
                       Family family) {
  Endpoint endpoint;
  endpoint.ip.family = family;
  std::copy(address.begin(), address.end(), endpoint.ip.bytes.begin());
  endpoint.port = static_cast<std::uint16_t>((port[0] << 8) | port[1]);
  return endpoint;
}

std::optional<ProxyHeader> parse_v2(std::span<const std::uint8_t> bytes) {
  using namespace proxy_v2;
  ByteReader reader(bytes);
  reader.bytes(kSignature.size());
  const auto version_command = *reader.u8();
  const auto family = *reader.u8();
  const auto length = *reader.u16();
  if ((version_command & 0xf0) != kVersion2) return std::nullopt;
  const std::uint8_t command = version_command & 0x0f;
  if (command != kCommandLocal && command != kCommandProxy) return std::nullopt;
  auto payload = reader.bytes(length);
  if (!payload) return std::nullopt;

  ProxyHeader header;
  header.version = 2;
  header.local = command == kCommandLocal;
  header.size = kFixedHeaderSize + length;
  if (!header.local && family != kTcpOverIpv4 && family != kTcpOverIpv6) return std::nullopt;
  ByteReader body(*payload);
  auto block = body.bytes(address_block_size(family));
  if (!block) return std::nullopt;
  if (!header.local) {
    const bool v4 = family == kTcpOverIpv4;
    const std::size_t n = v4 ? 4 : 16;
    const Family f = v4 ? Family::v4 : Family::v6;
    header.source = read_endpoint(block->subspan(0, n), block->subspan(2 * n, 2), f);
    header.destination = read_endpoint(block->subspan(n, n), block->subspan(2 * n + 2, 2), f);
  }
  while (!body.empty()) {
    auto type = body.u8();
    auto value = body.vector(2);
    if (!type || !value) return std::nullopt;
    if (*type == kTypeAuthority) {
      auto text = *value->bytes(value->remaining());
      header.authority.assign(text.begin(), text.end());
    }
  }
  return header;
}

ProxyHeaderScan rejected() {
  ProxyHeaderScan scan;
  scan.status = ParseStatus::rejected;
  return scan;
}

ProxyHeaderScan need_more(std::size_t needed) {
  ProxyHeaderScan scan;
  scan.needed = std::max<std::size_t>(needed, 1);
  return scan;
}

ProxyHeaderScan done_or_rejected(std::optional<ProxyHeader> header) {
  if (!header) return rejected();
  ProxyHeaderScan scan;
  scan.status = ParseStatus::done;
  scan.header = std::move(*header);
  return scan;
}

}  // namespace

ProxyHeaderScan scan_proxy_header(std::span<const std::uint8_t> bytes, std::size_t max_size) {
  using proxy_v2::kFixedHeaderSize;
  using proxy_v2::kSignature;
  const std::size_t signature_part = std::min(bytes.size(), kSignature.size());
  if (std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(signature_part),
                 kSignature.begin()) &&
      !bytes.empty()) {
    if (bytes.size() < kFixedHeaderSize) return need_more(kFixedHeaderSize - bytes.size());
    const std::size_t total = kFixedHeaderSize + ((std::size_t{bytes[14]} << 8) | bytes[15]);
    if (total > max_size) return rejected();
    if (bytes.size() < total) return need_more(total - bytes.size());
    return done_or_rejected(parse_v2(bytes.first(total)));
  }
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::size_t prefix_part = std::min(text.size(), kV1Prefix.size());
  if (text.substr(0, prefix_part) != kV1Prefix.substr(0, prefix_part)) return rejected();
  if (text.substr(0, kV1MaxLine).find("\r\n") != std::string_view::npos)
    return done_or_rejected(parse_v1(text));
  if (text.size() >= kV1MaxLine) return rejected();  // no CRLF where the spec puts one
  return need_more(1);
}

std::optional<ProxyHeader> parse_proxy_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() >= proxy_v2::kFixedHeaderSize &&
      std::equal(proxy_v2::kSignature.begin(), proxy_v2::kSignature.end(), bytes.begin()))
    return parse_v2(bytes);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  if (text.starts_with(kV1Prefix)) return parse_v1(text);
  return std::nullopt;
}

}  // namespace sniproxy::protocol
