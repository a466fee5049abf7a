// libFuzzer: the HTTP request-head parser on arbitrary bytes. The first byte
// picks a chunk size; the result fed in chunks must equal the result fed whole.
#include "fuzz_parser.hpp"
#include "protocol/http_head.hpp"

using sniproxy::protocol::HttpHeadParser;
using sniproxy::protocol::HttpRequestInfo;
using sniproxy::protocol::ParseStatus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return sniproxy::fuzz::whole_equals_chunked<HttpHeadParser>(
      data, size, {.max_size = 8 * 1024, .chunk_choices = 61},
      [](const HttpRequestInfo& x, const HttpRequestInfo& y) {
        return x.method == y.method && x.target == y.target && x.version == y.version &&
               x.host == y.host && x.port == y.port && x.head_size == y.head_size;
      },
      // A head is never longer than the bytes it came in.
      [](const HttpHeadParser& p, ParseStatus s, sniproxy::fuzz::Bytes input) {
        sniproxy::fuzz::require(s != ParseStatus::done || p.info().head_size <= input.size());
      });
}
