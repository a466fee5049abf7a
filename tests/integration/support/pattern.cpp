#include "pattern.hpp"

#include <algorithm>
#include <cstring>

namespace sniproxy::integration {

PatternStream::PatternStream(std::uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 1) {}

std::uint64_t PatternStream::next_word() {
  // splitmix64: fast and every seed gives a different stream.
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void PatternStream::fill(std::span<std::uint8_t> out) {
  std::size_t i = 0;
  while (i < out.size() && pending_count_ > 0) {
    out[i++] = static_cast<std::uint8_t>(pending_);
    pending_ >>= 8;
    --pending_count_;
  }
  while (out.size() - i >= 8) {
    const std::uint64_t w = next_word();
    std::memcpy(out.data() + i, &w, 8);  // little-endian: low byte first, as below
    i += 8;
  }
  if (i < out.size()) {
    pending_ = next_word();
    pending_count_ = 8;
    while (i < out.size()) {
      out[i++] = static_cast<std::uint8_t>(pending_);
      pending_ >>= 8;
      --pending_count_;
    }
  }
}

void PatternChecker::consume(std::span<const std::uint8_t> received) {
  scratch_.resize(received.size());
  expected_.fill(scratch_);
  if (!first_mismatch_ && std::memcmp(scratch_.data(), received.data(), received.size()) != 0) {
    auto diff = std::mismatch(received.begin(), received.end(), scratch_.begin());
    first_mismatch_ = bytes_ + static_cast<std::uint64_t>(diff.first - received.begin());
  }
  bytes_ += received.size();
}

std::vector<std::uint8_t> pattern_bytes(std::uint64_t seed, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  PatternStream(seed).fill(out);
  return out;
}

void Fnv1a::add(std::span<const std::uint8_t> bytes) {
  for (std::uint8_t b : bytes) {
    hash_ ^= b;
    hash_ *= 0x100000001b3ull;
  }
}

}  // namespace sniproxy::integration
