#pragma once
// Owning handles for the OpenSSL 3 libcrypto objects the QUIC Initial code
// uses, so that every early return frees what it fetched or allocated.
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>

namespace sniproxy::protocol::quic {

struct EvpKdfFree {
  void operator()(EVP_KDF* kdf) const { EVP_KDF_free(kdf); }
};
struct EvpKdfCtxFree {
  void operator()(EVP_KDF_CTX* ctx) const { EVP_KDF_CTX_free(ctx); }
};
struct EvpCipherFree {
  void operator()(EVP_CIPHER* cipher) const { EVP_CIPHER_free(cipher); }
};
struct EvpCipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};

using EvpKdf = std::unique_ptr<EVP_KDF, EvpKdfFree>;
using EvpKdfCtx = std::unique_ptr<EVP_KDF_CTX, EvpKdfCtxFree>;
using EvpCipher = std::unique_ptr<EVP_CIPHER, EvpCipherFree>;
using EvpCipherCtx = std::unique_ptr<EVP_CIPHER_CTX, EvpCipherCtxFree>;

// The algorithms, fetched once per process (fetching is the slow part of an
// EVP call; the fetched objects are immutable and safe to share between
// threads). nullptr if this libcrypto lacks one.
const EVP_KDF* hkdf();
const EVP_CIPHER* aes_128_ecb();
const EVP_CIPHER* aes_128_gcm();

}  // namespace sniproxy::protocol::quic
