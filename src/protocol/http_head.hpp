#pragma once
// Incremental HTTP/1.x request-head parser: request line and header fields up
// to the blank line, enough to learn which host the client wants (RFC 9112).
// Pure: no I/O.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/parse_status.hpp"

namespace sniproxy::protocol {

enum class HttpError {
  not_http,          // the first bytes cannot start an HTTP request line
  bad_request_line,  // method/target/version malformed or unsupported
  bad_header,        // a header line that is not `token ":" value`
  connect_refused,   // CONNECT: this is not a forward proxy
  too_large,         // no end of head within the bound
  bad_host,          // Host header or URI authority is not host[:port]
  duplicate_host,    // more than one Host header
};

// Stable snake_case tokens for metrics and logs ("not_http", "bad_host", ...).
std::string_view to_string(HttpError error);

struct HttpRequestInfo {
  std::string method, target, version;  // "GET", "/x" or "http://h/x", "HTTP/1.1"
  std::string host;                     // without port or IPv6 brackets; empty if none given
  std::optional<std::uint16_t> port;    // explicit port from Host or the absolute URI
  std::size_t head_size = 0;            // bytes up to and including the blank line
};

class HttpHeadParser {
 public:
  // max_size bounds the head (request line, headers and blank line), bytes.
  explicit HttpHeadParser(std::size_t max_size);

  // Same contract as ClientHelloParser::feed: only new bytes; once done or
  // rejected nothing more is read; bytes past the head (a body) are ignored.
  ParseStatus feed(std::span<const std::uint8_t> bytes);
  [[nodiscard]] const HttpRequestInfo& info() const { return info_; }  // valid once done
  [[nodiscard]] HttpError error() const { return error_; }             // valid once rejected

 private:
  ParseStatus reject(HttpError error);
  // Checks the method byte by byte so that non-HTTP input fails at once.
  ParseStatus check_method_byte(std::uint8_t byte);
  ParseStatus end_line();
  ParseStatus parse_request_line(std::string_view line);
  ParseStatus parse_header(std::string_view line);

  std::size_t max_size_;
  ParseStatus status_ = ParseStatus::need_more;
  HttpError error_ = HttpError::not_http;
  HttpRequestInfo info_;
  std::string line_;  // the current line, without its LF
  bool method_done_ = false;
  bool request_line_done_ = false;
  bool host_header_seen_ = false;
  bool absolute_form_ = false;
};

// An HTTP/1.1 response with the given status, a one-line plain-text body and
// "Connection: close".
std::string http_error_response(int status, std::string_view reason);

}  // namespace sniproxy::protocol
