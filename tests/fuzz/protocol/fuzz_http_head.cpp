// libFuzzer: the HTTP request-head parser on arbitrary bytes. The first byte
// picks a chunk size; the result fed in chunks must equal the result fed whole.
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/http_head.hpp"

namespace {

using sniproxy::protocol::HttpHeadParser;
using sniproxy::protocol::ParseStatus;

constexpr std::size_t kMaxSize = 8 * 1024;

bool same(const HttpHeadParser& a, ParseStatus sa, const HttpHeadParser& b, ParseStatus sb) {
  if (sa != sb) return false;
  if (sa == ParseStatus::rejected) return a.error() == b.error();
  if (sa == ParseStatus::done) {
    const auto& x = a.info();
    const auto& y = b.info();
    return x.method == y.method && x.target == y.target && x.version == y.version &&
           x.host == y.host && x.port == y.port && x.head_size == y.head_size;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 61;
  const std::span<const std::uint8_t> input(data + 1, size - 1);

  HttpHeadParser whole(kMaxSize);
  const ParseStatus whole_status = whole.feed(input);
  if (whole_status == ParseStatus::done && whole.info().head_size > input.size()) __builtin_trap();

  HttpHeadParser chunked(kMaxSize);
  ParseStatus chunked_status = ParseStatus::need_more;
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    const std::size_t n = chunk < input.size() - pos ? chunk : input.size() - pos;
    chunked_status = chunked.feed(input.subspan(pos, n));
  }
  if (!same(whole, whole_status, chunked, chunked_status)) __builtin_trap();
  return 0;
}
