// Mutation sweeps over real hellos: flip every byte, truncate at every length.
// Nothing may crash, and under the sanitizer build nothing may read out of
// bounds; where the answer is known it is checked.
#include <gtest/gtest.h>

#include "hello_bytes.hpp"
#include "hello_result.hpp"
#include "protocol/client_hello.hpp"

namespace sniproxy::protocol::test {
namespace {

class Mutated : public ::testing::TestWithParam<const char*> {
 protected:
  Bytes wire = load_fixture(GetParam());
};

TEST_P(Mutated, FlippingAnyByteNeverCrashes) {
  for (std::uint8_t mask : {0x01, 0x80, 0xff}) {
    for (std::size_t i = 0; i < wire.size(); ++i) {
      Bytes mutated = wire;
      mutated[i] ^= mask;
      // The result must not depend on how the bytes arrive.
      const auto whole = parse_whole(mutated);
      ASSERT_EQ(parse_chunked(mutated, 1), whole) << "byte " << i << " ^ " << int(mask);
      ASSERT_EQ(parse_split(mutated, i), whole) << "byte " << i << " ^ " << int(mask);
      // The content type, the major version and the handshake type are
      // checked exactly. (A longer record length can go unnoticed: parsing
      // stops once the message is complete.)
      if ((i == 0 || i == 1 || i == 5) && whole.status == ParseStatus::done) {
        ADD_FAILURE() << "header byte " << i << " ^ " << int(mask) << " accepted";
      }
    }
  }
}

TEST_P(Mutated, TruncatingAtAnyLengthNeedsMore) {
  for (std::size_t length = 0; length < wire.size(); ++length) {
    const Bytes prefix(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(length));
    ASSERT_EQ(parse_whole(prefix).status, ParseStatus::need_more) << "length " << length;
  }
}

// Shrinks the handshake length (and the record with it) so the body ends
// early at every length: always rejected, never out of bounds.
TEST_P(Mutated, ShorterDeclaredLengthsAreRejected) {
  const Bytes message = handshake_message(wire);
  for (std::size_t length = 4; length < message.size(); ++length) {
    Bytes shortened(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(length));
    const std::size_t body = length - 4;
    shortened[1] = static_cast<std::uint8_t>(body >> 16);
    shortened[2] = static_cast<std::uint8_t>(body >> 8);
    shortened[3] = static_cast<std::uint8_t>(body);
    const auto r = parse_whole(record(22, shortened));
    // Ending right after the compression methods is a valid extension-less hello.
    if (r.status == ParseStatus::done) {
      EXPECT_EQ(r.info.server_name, std::nullopt) << "length " << length;
      continue;
    }
    ASSERT_EQ(r.status, ParseStatus::rejected) << "length " << length;
  }
}

INSTANTIATE_TEST_SUITE_P(Captured, Mutated,
                         ::testing::Values("tls13_alpn.bin", "tls12_sni.bin", "no_sni.bin",
                                           "tls13_resumption.bin"),
                         [](const auto& info) {
                           std::string name = info.param;
                           return name.substr(0, name.find('.'));
                         });

}  // namespace
}  // namespace sniproxy::protocol::test
