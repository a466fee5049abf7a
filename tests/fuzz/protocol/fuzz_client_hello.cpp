// libFuzzer: the ClientHello parser on arbitrary bytes. The first byte picks
// a chunk size; the result fed in chunks must equal the result fed whole.
#include "fuzz_parser.hpp"
#include "protocol/client_hello.hpp"

using sniproxy::protocol::ClientHelloInfo;
using sniproxy::protocol::ClientHelloParser;
using sniproxy::protocol::ParseStatus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return sniproxy::fuzz::whole_equals_chunked<ClientHelloParser>(
      data, size, {.max_size = 32 * 1024, .chunk_choices = 97},
      [](const ClientHelloInfo& x, const ClientHelloInfo& y) {
        return x.server_name == y.server_name && x.alpn == y.alpn && x.versions == y.versions &&
               x.legacy_version == y.legacy_version && x.ech_offered == y.ech_offered &&
               x.quic_transport_parameters == y.quic_transport_parameters;
      },
      // Wanting more must come with how much more.
      [](const ClientHelloParser& p, ParseStatus s, sniproxy::fuzz::Bytes) {
        sniproxy::fuzz::require(s != ParseStatus::need_more || p.bytes_needed_hint() != 0);
      });
}
