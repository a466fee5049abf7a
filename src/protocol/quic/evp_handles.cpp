#include "protocol/quic/evp_handles.hpp"

namespace sniproxy::protocol::quic {

const EVP_KDF* hkdf() {
  static const EvpKdf kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  return kdf.get();
}

const EVP_CIPHER* aes_128_ecb() {
  static const EvpCipher cipher(EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr));
  return cipher.get();
}

const EVP_CIPHER* aes_128_gcm() {
  static const EvpCipher cipher(EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr));
  return cipher.get();
}

}  // namespace sniproxy::protocol::quic
