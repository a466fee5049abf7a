#include "frames.hpp"

#include <charconv>
#include <cstdio>

namespace sniproxy::frames {
namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::size_t kTcpLength = 20;

void put8(Bytes& b, std::uint32_t v) {
  b.push_back(static_cast<std::uint8_t>(v));
}
void put16(Bytes& b, std::uint32_t v) {
  put8(b, v >> 8);
  put8(b, v & 0xff);
}
void put32(Bytes& b, std::uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xffff);
}
void set16(Bytes& b, std::size_t at, std::uint32_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

// Ones'-complement sum (RFC 1071), not yet folded or inverted.
std::uint32_t sum16(const std::uint8_t* data, std::size_t size, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (size % 2 == 1) sum += data[size - 1] << 8;
  return sum;
}
std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

Bytes tcp_segment(const TcpFrame& f) {
  Bytes t;
  put16(t, f.source_port);
  put16(t, f.destination_port);
  put32(t, f.sequence);
  put32(t, (f.flags & kAck) != 0 ? 1 : 0);
  put8(t, (kTcpLength / 4) << 4);
  put8(t, f.flags);
  put16(t, 65535);  // window
  put16(t, 0);      // checksum, below
  put16(t, 0);      // urgent pointer
  t.insert(t.end(), f.payload.begin(), f.payload.end());
  return t;
}

std::uint16_t tcp_checksum(const TcpFrame& f, const Bytes& segment) {
  const std::size_t address_size = f.source.family == Family::v4 ? 4 : 16;
  std::uint32_t sum = sum16(f.source.bytes.data(), address_size);
  sum = sum16(f.destination.bytes.data(), address_size, sum);
  sum += 6 + static_cast<std::uint32_t>(segment.size());  // protocol and length
  return fold(sum16(segment.data(), segment.size(), sum));
}

void ipv4_header(Bytes& b, const TcpFrame& f, std::size_t payload) {
  const std::size_t start = b.size();
  put8(b, 0x45);
  put8(b, 0);
  put16(b, static_cast<std::uint32_t>(kIpv4Length + payload));
  put16(b, 0x1234);  // identification
  put16(b, f.ipv4_fragment);
  put8(b, 64);
  put8(b, f.protocol);
  put16(b, 0);
  b.insert(b.end(), f.source.bytes.begin(), f.source.bytes.begin() + 4);
  b.insert(b.end(), f.destination.bytes.begin(), f.destination.bytes.begin() + 4);
  set16(b, start + 10, fold(sum16(b.data() + start, kIpv4Length)));
}

void ipv6_headers(Bytes& b, const TcpFrame& f, std::size_t payload) {
  put32(b, 0x60000000);
  put16(b, static_cast<std::uint32_t>(payload + 8 * f.ipv6_extensions.size()));
  put8(b, f.ipv6_extensions.empty() ? f.protocol : f.ipv6_extensions.front());
  put8(b, 64);
  b.insert(b.end(), f.source.bytes.begin(), f.source.bytes.end());
  b.insert(b.end(), f.destination.bytes.begin(), f.destination.bytes.end());
  for (std::size_t i = 0; i < f.ipv6_extensions.size(); ++i) {
    const std::uint8_t next =
        i + 1 < f.ipv6_extensions.size() ? f.ipv6_extensions[i + 1] : f.protocol;
    put8(b, next);
    if (f.ipv6_extensions[i] == kFragmentHeader) {
      put8(b, 0);
      put16(b, f.ipv6_fragment);
      put32(b, 0x42);  // identification
    } else {
      put8(b, 0);  // length in 8-byte units after the first 8
      put8(b, 1);  // PadN option filling the 6 bytes
      put8(b, 4);
      put32(b, 0);
    }
  }
}

}  // namespace

std::optional<Mac> Mac::parse(std::string_view text) {
  Mac mac;
  for (std::size_t i = 0; i < 6; ++i) {
    if (text.size() < 2) return std::nullopt;
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + 2, value, 16);
    if (ec != std::errc() || ptr != text.data() + 2) return std::nullopt;
    mac.bytes[i] = static_cast<std::uint8_t>(value);
    text.remove_prefix(2);
    if (i < 5) {
      if (text.empty() || text.front() != ':') return std::nullopt;
      text.remove_prefix(1);
    }
  }
  if (!text.empty()) return std::nullopt;
  return mac;
}

std::string Mac::to_string() const {
  char text[18];
  std::snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return text;
}

Bytes build(const TcpFrame& f) {
  Bytes segment = tcp_segment(f);
  set16(segment, 16, tcp_checksum(f, segment));
  Bytes b;
  b.insert(b.end(), f.destination_mac.bytes.begin(), f.destination_mac.bytes.end());
  b.insert(b.end(), f.source_mac.bytes.begin(), f.source_mac.bytes.end());
  for (std::uint16_t vlan : f.vlans) {
    put16(b, kEtherVlan);
    put16(b, vlan);
  }
  if (f.source.family == Family::v4) {
    put16(b, kEtherIpv4);
    ipv4_header(b, f, segment.size());
  } else {
    put16(b, kEtherIpv6);
    ipv6_headers(b, f, segment.size());
  }
  b.insert(b.end(), segment.begin(), segment.end());
  return b;
}

Bytes truncated(Bytes frame, std::size_t length) {
  if (frame.size() > length) frame.resize(length);
  return frame;
}

}  // namespace sniproxy::frames
