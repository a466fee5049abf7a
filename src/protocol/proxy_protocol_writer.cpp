#include <limits>

#include "protocol/proxy_protocol.hpp"
#include "protocol/proxy_protocol_v2.hpp"

namespace sniproxy::protocol {
namespace {

IpAddress as_ipv6(const IpAddress& ip) {
  if (ip.family == Family::v6) return ip;
  IpAddress mapped;
  mapped.family = Family::v6;
  mapped.bytes[10] = 0xff;
  mapped.bytes[11] = 0xff;
  for (int i = 0; i < 4; ++i) mapped.bytes[12 + i] = ip.bytes[i];
  return mapped;
}

// Both endpoints in one family: the header has a single address family.
std::pair<Endpoint, Endpoint> same_family(const Endpoint& source, const Endpoint& destination) {
  if (source.ip.family == destination.ip.family) return {source, destination};
  return {Endpoint{as_ipv6(source.ip), source.port},
          Endpoint{as_ipv6(destination.ip), destination.port}};
}

void put_u16(std::vector<std::uint8_t>& out, std::size_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

}  // namespace

std::string proxy_v1_header(const Endpoint& source, const Endpoint& destination) {
  const auto [src, dst] = same_family(source, destination);
  std::string out = src.ip.family == Family::v4 ? "PROXY TCP4 " : "PROXY TCP6 ";
  out += src.ip.to_string();
  out += ' ';
  out += dst.ip.to_string();
  out += ' ';
  out += std::to_string(src.port);
  out += ' ';
  out += std::to_string(dst.port);
  out += "\r\n";
  return out;
}

std::vector<std::uint8_t> proxy_v2_header(const Endpoint& source, const Endpoint& destination,
                                          std::string_view authority) {
  using namespace proxy_v2;
  const auto [src, dst] = same_family(source, destination);
  const bool v4 = src.ip.family == Family::v4;
  const std::size_t address_size = v4 ? 4 : 16;
  const std::size_t block = v4 ? kIpv4AddressBlock : kIpv6AddressBlock;
  constexpr std::size_t kTlvHeader = 3;
  const bool with_authority = !authority.empty() && block + kTlvHeader + authority.size() <=
                                                        std::numeric_limits<std::uint16_t>::max();
  const std::size_t payload = block + (with_authority ? kTlvHeader + authority.size() : 0);

  std::vector<std::uint8_t> out(kSignature.begin(), kSignature.end());
  out.reserve(kFixedHeaderSize + payload);
  out.push_back(kVersion2 | kCommandProxy);
  out.push_back(v4 ? kTcpOverIpv4 : kTcpOverIpv6);
  put_u16(out, payload);
  out.insert(out.end(), src.ip.bytes.begin(), src.ip.bytes.begin() + address_size);
  out.insert(out.end(), dst.ip.bytes.begin(), dst.ip.bytes.begin() + address_size);
  put_u16(out, src.port);
  put_u16(out, dst.port);
  if (with_authority) {
    out.push_back(kTypeAuthority);
    put_u16(out, authority.size());
    out.insert(out.end(), authority.begin(), authority.end());
  }
  return out;
}

}  // namespace sniproxy::protocol
