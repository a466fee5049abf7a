#include "protocol/quic/packet_protection.hpp"

#include <algorithm>
#include <climits>

#include "protocol/quic/evp_handles.hpp"

namespace sniproxy::protocol::quic {

std::optional<std::array<std::uint8_t, 5>> header_protection_mask(
    std::span<const std::uint8_t, 16> hp, std::span<const std::uint8_t, kSampleSize> sample) {
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || aes_128_ecb() == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), aes_128_ecb(), hp.data(), nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1)
    return std::nullopt;
  std::array<std::uint8_t, kSampleSize> block{};
  int written = 0;
  if (EVP_EncryptUpdate(ctx.get(), block.data(), &written, sample.data(), kSampleSize) != 1 ||
      written != static_cast<int>(kSampleSize))
    return std::nullopt;
  std::array<std::uint8_t, 5> mask{};
  std::copy_n(block.begin(), mask.size(), mask.begin());
  return mask;
}

bool aes_128_gcm_open(std::span<const std::uint8_t, 16> key,
                      std::span<const std::uint8_t, 12> nonce, std::span<const std::uint8_t> aad,
                      std::span<const std::uint8_t> sealed, std::vector<std::uint8_t>& plain) {
  if (sealed.size() < kTagSize || sealed.size() > INT_MAX || aad.size() > INT_MAX) return false;
  const auto ciphertext = sealed.first(sealed.size() - kTagSize);
  auto tag = sealed.last(kTagSize);
  EvpCipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || aes_128_gcm() == nullptr ||
      EVP_DecryptInit_ex2(ctx.get(), aes_128_gcm(), key.data(), nonce.data(), nullptr) != 1)
    return false;
  plain.resize(ciphertext.size());
  int written = 0;
  if (EVP_DecryptUpdate(ctx.get(), nullptr, &written, aad.data(), static_cast<int>(aad.size())) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), plain.data(), &written, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1)
    return false;
  // The tag is only read by libcrypto; the API takes a non-const pointer.
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize),
                          const_cast<std::uint8_t*>(tag.data())) != 1)
    return false;
  int final_written = 0;
  return EVP_DecryptFinal_ex(ctx.get(), plain.data() + written, &final_written) == 1;
}

}  // namespace sniproxy::protocol::quic
