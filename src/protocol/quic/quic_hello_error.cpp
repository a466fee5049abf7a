#include "protocol/quic/quic_hello_error.hpp"

namespace sniproxy::protocol::quic {

std::string_view to_string(QuicHelloError error) {
  switch (error) {
    case QuicHelloError::too_short:
      return "too_short";
    case QuicHelloError::not_initial:
      return "not_initial";
    case QuicHelloError::unknown_version:
      return "unknown_version";
    case QuicHelloError::bad_header:
      return "bad_header";
    case QuicHelloError::bad_tag:
      return "bad_tag";
    case QuicHelloError::other_connection:
      return "other_connection";
    case QuicHelloError::bad_frame:
      return "bad_frame";
    case QuicHelloError::client_closed:
      return "client_closed";
    case QuicHelloError::crypto_too_large:
      return "crypto_too_large";
    case QuicHelloError::crypto_conflict:
      return "crypto_conflict";
    case QuicHelloError::not_client_hello:
      return "not_client_hello";
    case QuicHelloError::bad_hello:
      return "bad_hello";
    case QuicHelloError::internal:
      return "internal";
  }
  return "unknown";
}

}  // namespace sniproxy::protocol::quic
