// libFuzzer: PROXY protocol headers. Arbitrary bytes go through the parser
// and the incremental scan the listeners use;
// the same bytes also choose two endpoints and an authority that are written
// as v1 and v2 headers and must parse back to exactly what was written.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "fuzz_parser.hpp"
#include "protocol/proxy_protocol.hpp"

namespace {

using sniproxy::Endpoint;
using sniproxy::Family;
using sniproxy::fuzz::Bytes;
using sniproxy::fuzz::require;
using sniproxy::protocol::parse_proxy_header;

constexpr std::size_t kEndpointBytes = 1 + 16 + 2;

Endpoint endpoint_from(Bytes bytes) {
  Endpoint e;
  e.ip.family = (bytes[0] & 1) ? Family::v6 : Family::v4;
  const std::size_t n = e.ip.family == Family::v4 ? 4 : 16;
  std::copy_n(bytes.begin() + 1, n, e.ip.bytes.begin());
  e.port = static_cast<std::uint16_t>((bytes[17] << 8) | bytes[18]);
  return e;
}

void round_trip(Bytes data) {
  if (data.size() < 2 * kEndpointBytes) return;
  const Endpoint source = endpoint_from(data.subspan(0, kEndpointBytes));
  const Endpoint destination = endpoint_from(data.subspan(kEndpointBytes, kEndpointBytes));
  const auto rest = data.subspan(2 * kEndpointBytes);
  const std::string authority(rest.begin(), rest.end());
  // Written headers carry one family: mixed pairs come back IPv4-mapped.
  const bool same_family = source.ip.family == destination.ip.family;
  auto matches = [&](const Endpoint& got, const Endpoint& want) {
    if (same_family) return got == want;
    return got.ip.family == Family::v6 && got.ip.unmapped() == want.ip.unmapped() &&
           got.port == want.port;
  };

  const std::string v1 = sniproxy::protocol::proxy_v1_header(source, destination);
  const auto p1 =
      parse_proxy_header(Bytes(reinterpret_cast<const std::uint8_t*>(v1.data()), v1.size()));
  require(p1 && p1->version == 1 && !p1->local && p1->size == v1.size());
  require(matches(p1->source, source) && matches(p1->destination, destination));

  const auto v2 = sniproxy::protocol::proxy_v2_header(source, destination, authority);
  const auto p2 = parse_proxy_header(v2);
  require(p2 && p2->version == 2 && !p2->local && p2->size == v2.size());
  require(matches(p2->source, source) && matches(p2->destination, destination));
  require(p2->authority == authority);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes input(data, size);
  if (auto parsed = parse_proxy_header(input)) {
    require(parsed->size != 0 && parsed->size <= size);
  }
  // The incremental scan agrees with itself: a header it completes is within
  // the input, and a prefix it waits on is never judged complete earlier.
  const auto scan = sniproxy::protocol::scan_proxy_header(input, 4096);
  if (scan.status == sniproxy::protocol::ParseStatus::done) {
    require(scan.header.size != 0 && scan.header.size <= size);
    for (std::size_t cut = 0; cut < scan.header.size; cut += 1 + scan.header.size / 8)
      require(sniproxy::protocol::scan_proxy_header(input.first(cut), 4096).status ==
              sniproxy::protocol::ParseStatus::need_more);
  }
  round_trip(input);
  return 0;
}
