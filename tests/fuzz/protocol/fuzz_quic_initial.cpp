// libFuzzer: QUIC client Initials. Random bytes almost never carry a valid
// AEAD tag, so the target has two modes, picked by the first byte's low bit:
//  raw    (1): the bytes, padded to 1200, as a first datagram: exercises the
//              header walk up to the tag check;
//  sealed (0): the bytes are up to 4 plaintext payloads, each a 2-byte
//              length then its frames, sealed as the client would (bit 1
//              picks v2, bits 2-3 the packet number size) and fed as one
//              flow: exercises frames, CRYPTO reassembly and the hello parser.
#include <algorithm>
#include <vector>

#include "fuzz_parser.hpp"
#include "protocol/quic/quic_hello_reader.hpp"
#include "quic_initial_builder.hpp"

namespace {

using sniproxy::fuzz::require;
using sniproxy::protocol::ParseStatus;
namespace quic = sniproxy::protocol::quic;
namespace test = sniproxy::protocol::test;

constexpr std::size_t kMaxHello = 8 * 1024;
constexpr std::size_t kMaxPackets = 4;

void run_raw(sniproxy::fuzz::Bytes input) {
  std::vector<std::uint8_t> datagram(input.begin(), input.end());
  if (datagram.size() < quic::kMinInitialDatagram) datagram.resize(quic::kMinInitialDatagram);
  auto start = quic::read_first_initial(datagram, kMaxHello);
  if (start.reader) require(start.reader->status() != ParseStatus::rejected);
}

void run_sealed(std::uint8_t mode, sniproxy::fuzz::Bytes input) {
  std::vector<std::vector<std::uint8_t>> datagrams;
  std::size_t pos = 0;
  while (pos < input.size() && datagrams.size() < kMaxPackets) {
    std::size_t size = input.size() - pos;
    if (size >= 2) {
      size = std::min<std::size_t>(size - 2, std::size_t{input[pos]} << 8 | input[pos + 1]);
      pos += 2;
    }
    test::InitialSpec spec;
    spec.version = (mode & 0x02) ? quic::kQuicV2 : quic::kQuicV1;
    spec.packet_number_size = 1 + ((mode >> 2) & 0x03);
    spec.packet_number = datagrams.size();
    spec.frames.assign(input.begin() + static_cast<std::ptrdiff_t>(pos),
                       input.begin() + static_cast<std::ptrdiff_t>(pos + size));
    pos += size;
    datagrams.push_back(test::padded_initial(spec));
  }
  if (datagrams.empty()) return;
  auto start = quic::read_first_initial(datagrams[0], kMaxHello);
  if (!start.reader) {
    // Sealed with the right keys: only the payload may be at fault.
    require(start.error != quic::QuicHelloError::bad_tag &&
            start.error != quic::QuicHelloError::too_short &&
            start.error != quic::QuicHelloError::bad_header);
    return;
  }
  auto& reader = *start.reader;
  for (std::size_t i = 1; i < datagrams.size(); ++i) {
    const ParseStatus before = reader.status();
    const ParseStatus after = reader.feed(datagrams[i]);
    if (before != ParseStatus::need_more) require(after == before);  // finished stays finished
    if (before == ParseStatus::need_more)
      require(reader.last_ignored() != quic::QuicHelloError::bad_tag);
  }
  if (reader.status() == ParseStatus::done) require(reader.info().version == reader.version());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const sniproxy::fuzz::Bytes input(data + 1, size - 1);
  if (data[0] & 0x01)
    run_raw(input);
  else
    run_sealed(data[0], input);
  return 0;
}
