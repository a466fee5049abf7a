// libFuzzer: the ClientHello parser on arbitrary bytes. The first byte picks
// a chunk size; the result fed in chunks must equal the result fed whole.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/client_hello.hpp"

namespace {

using sniproxy::protocol::ClientHelloParser;
using sniproxy::protocol::ParseStatus;

constexpr std::size_t kMaxSize = 32 * 1024;

bool same(const ClientHelloParser& a, ParseStatus sa, const ClientHelloParser& b, ParseStatus sb) {
  if (sa != sb) return false;
  if (sa == ParseStatus::rejected) return a.error() == b.error();
  if (sa == ParseStatus::done) {
    const auto& x = a.info();
    const auto& y = b.info();
    return x.server_name == y.server_name && x.alpn == y.alpn && x.versions == y.versions &&
           x.legacy_version == y.legacy_version && x.ech_offered == y.ech_offered;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 97;
  const std::span<const std::uint8_t> input(data + 1, size - 1);

  ClientHelloParser whole(kMaxSize);
  const ParseStatus whole_status = whole.feed(input);
  if (whole_status == ParseStatus::need_more && whole.bytes_needed_hint() == 0) __builtin_trap();

  ClientHelloParser chunked(kMaxSize);
  ParseStatus chunked_status = ParseStatus::need_more;
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    const std::size_t n = chunk < input.size() - pos ? chunk : input.size() - pos;
    chunked_status = chunked.feed(input.subspan(pos, n));
  }
  if (!same(whole, whole_status, chunked, chunked_status)) __builtin_trap();
  return 0;
}
