#pragma once
// Deterministic byte streams: a sender generates one from a seed, the
// receiver regenerates it and compares chunk by chunk, so gigabytes can be
// checked byte for byte without being stored.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace sniproxy::integration {

inline constexpr std::uint64_t kMiB = 1 << 20;

class PatternStream {
 public:
  explicit PatternStream(std::uint64_t seed);
  // The next out.size() bytes of the stream.
  void fill(std::span<std::uint8_t> out);

 private:
  std::uint64_t next_word();
  std::uint64_t state_;
  std::uint64_t pending_ = 0;  // bytes of the current word not yet handed out
  unsigned pending_count_ = 0;
};

class PatternChecker {
 public:
  explicit PatternChecker(std::uint64_t seed) : expected_(seed) {}
  // Compares the next received bytes with the stream; remembers the first
  // offset that differs.
  void consume(std::span<const std::uint8_t> received);
  [[nodiscard]] std::uint64_t bytes() const { return bytes_; }
  [[nodiscard]] std::optional<std::uint64_t> first_mismatch() const { return first_mismatch_; }

 private:
  PatternStream expected_;
  std::vector<std::uint8_t> scratch_;
  std::uint64_t bytes_ = 0;
  std::optional<std::uint64_t> first_mismatch_;
};

std::vector<std::uint8_t> pattern_bytes(std::uint64_t seed, std::size_t n);

// FNV-1a over a byte stream, for sinks that only need a fingerprint.
class Fnv1a {
 public:
  void add(std::span<const std::uint8_t> bytes);
  [[nodiscard]] std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace sniproxy::integration
