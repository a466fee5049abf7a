#pragma once
// Bounds-checked big-endian reads over a byte span: every read either returns
// a value inside the span or nullopt, so malformed lengths can never make a
// parser look past its input.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace sniproxy::protocol {

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  [[nodiscard]] std::size_t remaining() const { return bytes_.size() - pos_; }
  [[nodiscard]] bool empty() const { return remaining() == 0; }

  std::optional<std::uint32_t> uint(std::size_t width) {
    if (width > 4 || remaining() < width) return std::nullopt;
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < width; ++i) value = (value << 8) | bytes_[pos_ + i];
    pos_ += width;
    return value;
  }
  std::optional<std::uint8_t> u8() {
    auto v = uint(1);
    if (!v) return std::nullopt;
    return static_cast<std::uint8_t>(*v);
  }
  std::optional<std::uint16_t> u16() {
    auto v = uint(2);
    if (!v) return std::nullopt;
    return static_cast<std::uint16_t>(*v);
  }

  std::optional<std::span<const std::uint8_t>> bytes(std::size_t count) {
    if (remaining() < count) return std::nullopt;
    auto out = bytes_.subspan(pos_, count);
    pos_ += count;
    return out;
  }

  // A TLS-style vector: a big-endian length of `width` bytes, then that many
  // bytes. nullopt when the length runs past the end.
  std::optional<ByteReader> vector(std::size_t width) {
    auto length = uint(width);
    if (!length) return std::nullopt;
    auto body = bytes(*length);
    if (!body) return std::nullopt;
    return ByteReader(*body);
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

}  // namespace sniproxy::protocol
