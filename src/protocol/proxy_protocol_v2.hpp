#pragma once
// Wire constants of PROXY protocol v2 shared by its writer and parser.
#include <array>
#include <cstddef>
#include <cstdint>

namespace sniproxy::protocol::proxy_v2 {

inline constexpr std::array<std::uint8_t, 12> kSignature = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                                            0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
inline constexpr std::size_t kFixedHeaderSize = 16;  // signature, ver/cmd, fam, len
inline constexpr std::uint8_t kVersion2 = 0x20;
inline constexpr std::uint8_t kCommandLocal = 0x00;
inline constexpr std::uint8_t kCommandProxy = 0x01;
inline constexpr std::uint8_t kTcpOverIpv4 = 0x11;
inline constexpr std::uint8_t kTcpOverIpv6 = 0x21;
inline constexpr std::size_t kIpv4AddressBlock = 12;
inline constexpr std::size_t kIpv6AddressBlock = 36;
inline constexpr std::uint8_t kTypeAuthority = 0x02;

}  // namespace sniproxy::protocol::proxy_v2
