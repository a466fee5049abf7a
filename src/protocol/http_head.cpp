#include "protocol/http_head.hpp"

#include <algorithm>

#include "protocol/http_authority.hpp"

namespace sniproxy::protocol {
namespace {

// Long enough for every registered method; anything longer is not HTTP.
constexpr std::size_t kMaxMethodSize = 32;

// RFC 9110 5.6.2 tchar.
bool is_tchar(std::uint8_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return is_tchar(static_cast<std::uint8_t>(c));
  });
}

// RFC 9110 5.5 field-value bytes: VCHAR, obs-text, SP, HTAB.
bool is_field_value_char(char ch) {
  const auto c = static_cast<std::uint8_t>(ch);
  return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

// RFC 3986 URI bytes: visible ASCII only.
bool is_target_char(char ch) {
  const auto c = static_cast<std::uint8_t>(ch);
  return c >= 0x21 && c <= 0x7e;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::string_view trim_ows(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string_view to_string(HttpError error) {
  switch (error) {
    case HttpError::not_http:
      return "not_http";
    case HttpError::bad_request_line:
      return "bad_request_line";
    case HttpError::bad_header:
      return "bad_header";
    case HttpError::connect_refused:
      return "connect_refused";
    case HttpError::too_large:
      return "too_large";
    case HttpError::bad_host:
      return "bad_host";
    case HttpError::duplicate_host:
      return "duplicate_host";
  }
  return "unknown";
}

HttpHeadParser::HttpHeadParser(std::size_t max_size) : max_size_(max_size) {}

ParseStatus HttpHeadParser::reject(HttpError error) {
  error_ = error;
  status_ = ParseStatus::rejected;
  line_ = {};
  return status_;
}

ParseStatus HttpHeadParser::feed(std::span<const std::uint8_t> bytes) {
  for (std::size_t i = 0; i < bytes.size() && status_ == ParseStatus::need_more; ++i) {
    if (info_.head_size >= max_size_) return reject(HttpError::too_large);
    ++info_.head_size;
    const std::uint8_t byte = bytes[i];
    if (byte == '\n') {
      end_line();
      continue;
    }
    line_.push_back(static_cast<char>(byte));
    if (!method_done_) check_method_byte(byte);
  }
  return status_;
}

ParseStatus HttpHeadParser::check_method_byte(std::uint8_t byte) {
  if (byte != ' ') {
    if (!is_tchar(byte) || line_.size() > kMaxMethodSize) return reject(HttpError::not_http);
    return status_;
  }
  method_done_ = true;
  const std::string_view method = std::string_view(line_).substr(0, line_.size() - 1);
  if (method.empty()) return reject(HttpError::not_http);
  // Refused as soon as the method is known: this is not a forward proxy.
  if (method == "CONNECT") return reject(HttpError::connect_refused);
  return status_;
}

ParseStatus HttpHeadParser::end_line() {
  std::string_view line = line_;
  // Bare LF ends a line as well as CRLF (RFC 9112 2.2); a CR anywhere else
  // is an error, since peers disagree on what it means.
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const bool stray_cr = line.find('\r') != std::string_view::npos;
  if (!request_line_done_) {
    if (!method_done_) return reject(HttpError::not_http);
    if (stray_cr) return reject(HttpError::bad_request_line);
    parse_request_line(line);
  } else if (line.empty()) {
    status_ = ParseStatus::done;
  } else {
    if (stray_cr) return reject(HttpError::bad_header);
    parse_header(line);
  }
  line_.clear();
  return status_;
}

ParseStatus HttpHeadParser::parse_request_line(std::string_view line) {
  request_line_done_ = true;
  const auto first_space = line.find(' ');
  const auto second_space = line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos) return reject(HttpError::bad_request_line);
  info_.method = std::string(line.substr(0, first_space));
  const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  const std::string_view version = line.substr(second_space + 1);
  if (target.empty() || !std::all_of(target.begin(), target.end(), is_target_char))
    return reject(HttpError::bad_request_line);
  if (!version.starts_with("HTTP/")) return reject(HttpError::not_http);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return reject(HttpError::bad_request_line);
  info_.target = std::string(target);
  info_.version = std::string(version);

  if (target[0] == '/') return status_;  // origin-form
  if (target == "*") {                   // asterisk-form, OPTIONS only
    if (info_.method != "OPTIONS") return reject(HttpError::bad_request_line);
    return status_;
  }
  // absolute-form: its authority wins over any Host header (RFC 9112 3.2.2).
  std::string_view rest;
  if (istarts_with(target, "http://"))
    rest = target.substr(7);
  else if (istarts_with(target, "https://"))
    rest = target.substr(8);
  else
    return reject(HttpError::bad_request_line);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return reject(HttpError::bad_host);
  auto parsed = parse_authority(authority);
  if (!parsed) return reject(HttpError::bad_host);
  absolute_form_ = true;
  info_.host = std::move(parsed->host);
  info_.port = parsed->port;
  return status_;
}

ParseStatus HttpHeadParser::parse_header(std::string_view line) {
  // A line starting with whitespace is obsolete line folding (RFC 9112 5.2).
  if (line.front() == ' ' || line.front() == '\t') return reject(HttpError::bad_header);
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return reject(HttpError::bad_header);
  // No whitespace is allowed between the name and the colon (RFC 9112 5.1).
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (!is_token(name) || !std::all_of(value.begin(), value.end(), is_field_value_char))
    return reject(HttpError::bad_header);
  if (!iequals(name, "host")) return status_;

  // RFC 9112 3.2: more than one Host, or an invalid one, is a bad request.
  if (host_header_seen_) return reject(HttpError::duplicate_host);
  host_header_seen_ = true;
  if (value.empty()) return status_;  // allowed when the target has no authority
  auto parsed = parse_authority(value);
  if (!parsed) return reject(HttpError::bad_host);
  if (!absolute_form_) {
    info_.host = std::move(parsed->host);
    info_.port = parsed->port;
  }
  return status_;
}

std::string http_error_response(int status, std::string_view reason) {
  std::string body = std::to_string(status);
  body += ' ';
  body += reason;
  body += '\n';
  std::string out = "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason;
  out += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\nConnection: close\r\n\r\n";
  out += body;
  return out;
}

}  // namespace sniproxy::protocol
