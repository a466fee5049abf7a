#pragma once
// What the protocol parsers' libFuzzer targets share, so that a parser's
// target holds only its own checks. A target defines libFuzzer's entry,
// LLVMFuzzerTestOneInput, and calls into this; for an incremental parser:
//
//   extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
//     return sniproxy::fuzz::whole_equals_chunked<QuicInitialParser>(
//         data, size, {.max_size = 4096, .chunk_choices = 31}, same_info, check_whole);
//   }
#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/parse_status.hpp"

namespace sniproxy::fuzz {

using Bytes = std::span<const std::uint8_t>;

// A broken invariant: a trap, which libFuzzer reports as a crash and keeps
// the input that caused it.
inline void require(bool holds) {
  if (!holds) __builtin_trap();
}

// Feeds `input` to `parser` `chunk` bytes at a time; the status after the
// last feed (need_more when there was nothing to feed).
template <class Parser>
protocol::ParseStatus feed_in_chunks(Parser& parser, Bytes input, std::size_t chunk) {
  protocol::ParseStatus status = protocol::ParseStatus::need_more;
  for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
    const std::size_t n = chunk < input.size() - pos ? chunk : input.size() - pos;
    status = parser.feed(input.subspan(pos, n));
  }
  return status;
}

struct Chunking {
  std::size_t max_size;       // the parser's size limit
  std::size_t chunk_choices;  // chunk sizes 1..chunk_choices
};

// For an incremental parser (Parser(max_size), feed(bytes) -> ParseStatus,
// error() once rejected, info() once done): the first input byte picks a
// chunk size, and the rest fed whole and fed in chunks must end the same way
// (status, error, and infos that same_info(a, b) finds equal). Before that,
// check_whole(parser, status, input) checks the parser's own invariants on
// the whole feed. Always returns 0, libFuzzer's "keep going".
template <class Parser, class SameInfo, class CheckWhole>
int whole_equals_chunked(const std::uint8_t* data, std::size_t size, Chunking chunking,
                         SameInfo same_info, CheckWhole check_whole) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % chunking.chunk_choices;
  const Bytes input(data + 1, size - 1);

  Parser whole(chunking.max_size);
  const protocol::ParseStatus whole_status = whole.feed(input);
  check_whole(whole, whole_status, input);

  Parser chunked(chunking.max_size);
  const protocol::ParseStatus chunked_status = feed_in_chunks(chunked, input, chunk);
  require(whole_status == chunked_status);
  if (whole_status == protocol::ParseStatus::rejected) require(whole.error() == chunked.error());
  if (whole_status == protocol::ParseStatus::done) require(same_info(whole.info(), chunked.info()));
  return 0;
}

}  // namespace sniproxy::fuzz
