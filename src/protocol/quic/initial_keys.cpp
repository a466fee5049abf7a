#include "protocol/quic/initial_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <string_view>
#include <vector>

#include "protocol/quic/evp_handles.hpp"

namespace sniproxy::protocol::quic {
namespace {

using Secret = std::array<std::uint8_t, 32>;  // SHA-256 sized

// One HKDF call: extract (salt, ikm -> out) or expand (prk as key, info -> out).
bool run_hkdf(int mode, std::span<const std::uint8_t> key, std::span<const std::uint8_t> salt,
              std::span<const std::uint8_t> info, std::span<std::uint8_t> out) {
  if (hkdf() == nullptr) return false;
  EvpKdfCtx ctx(EVP_KDF_CTX_new(const_cast<EVP_KDF*>(hkdf())));
  if (!ctx) return false;
  char digest[] = "SHA256";
  // OSSL_PARAM takes non-const pointers; libcrypto only reads them here.
  auto octets = [](const char* name, std::span<const std::uint8_t> bytes) {
    return OSSL_PARAM_construct_octet_string(name, const_cast<std::uint8_t*>(bytes.data()),
                                             bytes.size());
  };
  std::array<OSSL_PARAM, 6> params{};
  std::size_t count = 0;
  params[count++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[count++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[count++] = octets(OSSL_KDF_PARAM_KEY, key);
  if (!salt.empty()) params[count++] = octets(OSSL_KDF_PARAM_SALT, salt);
  if (!info.empty()) params[count++] = octets(OSSL_KDF_PARAM_INFO, info);
  params[count] = OSSL_PARAM_construct_end();
  return EVP_KDF_derive(ctx.get(), out.data(), out.size(), params.data()) == 1;
}

// HKDF-Expand-Label (RFC 8446 7.1) with an empty context, as QUIC uses it.
bool expand_label(std::span<const std::uint8_t> secret, std::string_view label,
                  std::span<std::uint8_t> out) {
  constexpr std::string_view kPrefix = "tls13 ";
  std::vector<std::uint8_t> info;
  info.push_back(static_cast<std::uint8_t>(out.size() >> 8));
  info.push_back(static_cast<std::uint8_t>(out.size()));
  info.push_back(static_cast<std::uint8_t>(kPrefix.size() + label.size()));
  info.insert(info.end(), kPrefix.begin(), kPrefix.end());
  info.insert(info.end(), label.begin(), label.end());
  info.push_back(0);  // empty context
  return run_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, {}, info, out);
}

}  // namespace

std::optional<InitialKeys> client_initial_keys(const QuicVersion& version,
                                               std::span<const std::uint8_t> dcid) {
  Secret initial_secret{};
  Secret client_secret{};
  InitialKeys keys;
  if (!run_hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, dcid, version.initial_salt, {}, initial_secret) ||
      !expand_label(initial_secret, "client in", client_secret) ||
      !expand_label(client_secret, version.key_label, keys.key) ||
      !expand_label(client_secret, version.iv_label, keys.iv) ||
      !expand_label(client_secret, version.hp_label, keys.hp))
    return std::nullopt;
  return keys;
}

}  // namespace sniproxy::protocol::quic
