#include "protocol/http_head.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "hello_bytes.hpp"

namespace sniproxy::protocol {
namespace {

using test::as_bytes;

constexpr std::size_t kMax = 8192;

struct HttpResult {
  ParseStatus status = ParseStatus::need_more;
  HttpError error = HttpError::not_http;
  HttpRequestInfo info;

  friend bool operator==(const HttpResult& a, const HttpResult& b) {
    if (a.status != b.status) return false;
    if (a.status == ParseStatus::rejected) return a.error == b.error;
    if (a.status == ParseStatus::need_more) return true;
    return a.info.method == b.info.method && a.info.target == b.info.target &&
           a.info.version == b.info.version && a.info.host == b.info.host &&
           a.info.port == b.info.port && a.info.head_size == b.info.head_size;
  }
  friend std::ostream& operator<<(std::ostream& os, const HttpResult& r) {
    switch (r.status) {
      case ParseStatus::need_more:
        return os << "need_more";
      case ParseStatus::rejected:
        return os << "rejected " << to_string(r.error);
      case ParseStatus::done:
        return os << "done host=" << r.info.host << " port=" << r.info.port.value_or(0)
                  << " head_size=" << r.info.head_size;
    }
    return os;
  }
};

HttpResult result_of(const HttpHeadParser& parser, ParseStatus status) {
  HttpResult r;
  r.status = status;
  if (status == ParseStatus::rejected) r.error = parser.error();
  if (status == ParseStatus::done) r.info = parser.info();
  return r;
}

HttpResult parse(std::string_view text, std::size_t max_size = kMax) {
  HttpHeadParser parser(max_size);
  return result_of(parser, parser.feed(as_bytes(text)));
}

HttpResult parse_bytewise(std::string_view text, std::size_t max_size = kMax) {
  HttpHeadParser parser(max_size);
  ParseStatus status = ParseStatus::need_more;
  for (char c : text) status = parser.feed(as_bytes(std::string_view(&c, 1)));
  return result_of(parser, status);
}

// How many bytes, fed one at a time, it took to be rejected (0: never).
std::size_t bytes_until_rejected(std::string_view text) {
  HttpHeadParser parser(kMax);
  for (std::size_t i = 0; i < text.size(); ++i)
    if (parser.feed(as_bytes(text.substr(i, 1))) == ParseStatus::rejected) return i + 1;
  return 0;
}

HttpResult expect_done(std::string_view text) {
  const auto r = parse(text);
  EXPECT_EQ(r.status, ParseStatus::done) << r << " for " << text;
  EXPECT_EQ(parse_bytewise(text), r);
  return r;
}

void expect_rejected(std::string_view text, HttpError error) {
  const auto r = parse(text);
  ASSERT_EQ(r.status, ParseStatus::rejected) << r << " for " << text;
  EXPECT_EQ(r.error, error) << to_string(r.error) << " for " << text;
  EXPECT_EQ(parse_bytewise(text), r);
}

TEST(HttpHead, SimpleGet) {
  const std::string text = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
  const auto r = expect_done(text);
  EXPECT_EQ(r.info.method, "GET");
  EXPECT_EQ(r.info.target, "/index.html");
  EXPECT_EQ(r.info.version, "HTTP/1.1");
  EXPECT_EQ(r.info.host, "example.com");
  EXPECT_EQ(r.info.port, std::nullopt);
  EXPECT_EQ(r.info.head_size, text.size());
}

TEST(HttpHead, HostWithPort) {
  const auto r = expect_done("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
  EXPECT_EQ(r.info.host, "example.com");
  EXPECT_EQ(r.info.port, 8080);
}

TEST(HttpHead, Ipv6HostWithAndWithoutPort) {
  auto r = expect_done("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
  EXPECT_EQ(r.info.host, "::1");
  EXPECT_EQ(r.info.port, 8080);
  r = expect_done("GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n");
  EXPECT_EQ(r.info.host, "2001:db8::1");
  EXPECT_EQ(r.info.port, std::nullopt);
}

TEST(HttpHead, Ipv4Host) {
  const auto r = expect_done("GET / HTTP/1.1\r\nHost: 192.0.2.7:81\r\n\r\n");
  EXPECT_EQ(r.info.host, "192.0.2.7");
  EXPECT_EQ(r.info.port, 81);
}

TEST(HttpHead, EmptyPortMeansNone) {
  const auto r = expect_done("GET / HTTP/1.1\r\nHost: example.com:\r\n\r\n");
  EXPECT_EQ(r.info.host, "example.com");
  EXPECT_EQ(r.info.port, std::nullopt);
}

TEST(HttpHead, HeaderNamesAreCaseInsensitiveAndValuesTrimmed) {
  auto r = expect_done("GET / HTTP/1.1\r\nhOsT: \t a.example \t\r\n\r\n");
  EXPECT_EQ(r.info.host, "a.example");
  r = expect_done("GET / HTTP/1.1\r\nHOST:b.example\r\n\r\n");
  EXPECT_EQ(r.info.host, "b.example");
}

TEST(HttpHead, HostKeptAsSent) {
  const auto r = expect_done("GET / HTTP/1.1\r\nHost: WWW.Example.COM.\r\n\r\n");
  EXPECT_EQ(r.info.host, "WWW.Example.COM.");
}

TEST(HttpHead, BareLineFeeds) {
  const std::string text = "GET / HTTP/1.1\nHost: example.com\nX: y\n\n";
  const auto r = expect_done(text);
  EXPECT_EQ(r.info.host, "example.com");
  EXPECT_EQ(r.info.head_size, text.size());
  const auto mixed = expect_done("GET / HTTP/1.1\r\nHost: example.com\n\r\n");
  EXPECT_EQ(mixed.info.host, "example.com");
}

TEST(HttpHead, AbsoluteFormAuthorityWinsOverHost) {
  auto r = expect_done("GET http://a.example:8080/x?y HTTP/1.1\r\nHost: b.example\r\n\r\n");
  EXPECT_EQ(r.info.target, "http://a.example:8080/x?y");
  EXPECT_EQ(r.info.host, "a.example");
  EXPECT_EQ(r.info.port, 8080);
  // The Host header comes first on the wire: still the URI wins.
  r = expect_done("GET HTTPS://c.example HTTP/1.1\r\nHost: d.example:99\r\n\r\n");
  EXPECT_EQ(r.info.host, "c.example");
  EXPECT_EQ(r.info.port, std::nullopt);
  r = expect_done("GET http://[2001:db8::2]:81?q HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.info.host, "2001:db8::2");
  EXPECT_EQ(r.info.port, 81);
  r = expect_done("GET http://e.example#frag HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.info.host, "e.example");
}

TEST(HttpHead, MissingHostIsDoneWithEmptyHost) {
  auto r = expect_done("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");
  EXPECT_EQ(r.info.host, "");
  EXPECT_EQ(r.info.port, std::nullopt);
  r = expect_done("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.info.host, "");
  EXPECT_EQ(r.info.version, "HTTP/1.0");
  r = expect_done("GET / HTTP/1.1\r\nHost:\r\n\r\n");
  EXPECT_EQ(r.info.host, "");
}

TEST(HttpHead, OptionsAsterisk) {
  const auto r = expect_done("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n");
  EXPECT_EQ(r.info.target, "*");
}

TEST(HttpHead, ExtensionMethods) {
  EXPECT_EQ(expect_done("PROPFIND /dav HTTP/1.1\r\nHost: x\r\n\r\n").info.method, "PROPFIND");
}

TEST(HttpHead, IgnoresTheBody) {
  const std::string head = "POST /form HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\n";
  HttpHeadParser parser(kMax);
  EXPECT_EQ(parser.feed(as_bytes(head + "hello")), ParseStatus::done);
  EXPECT_EQ(parser.info().head_size, head.size());
  EXPECT_EQ(parser.feed(as_bytes("\r\n\r\nmore")), ParseStatus::done);
  EXPECT_EQ(parser.info().head_size, head.size());
}

TEST(HttpHead, SplitAtEveryOffsetGivesTheSameResult) {
  const std::string texts[] = {
      "GET http://a.example:8080/x HTTP/1.1\r\nUser-Agent: curl/7.88\r\nHost: b\r\n\r\nbody",
      "GET / HTTP/1.1\nHost: [::1]:8080\n\n",
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
      "CONNECT a.example:443 HTTP/1.1\r\n\r\n",
  };
  for (const auto& text : texts) {
    const auto whole = parse(text);
    EXPECT_EQ(parse_bytewise(text), whole);
    for (std::size_t offset = 0; offset <= text.size(); ++offset) {
      HttpHeadParser parser(kMax);
      parser.feed(as_bytes(std::string_view(text).substr(0, offset)));
      const auto r =
          result_of(parser, parser.feed(as_bytes(std::string_view(text).substr(offset))));
      ASSERT_EQ(r, whole) << "split at " << offset << " of " << text;
    }
  }
}

TEST(HttpHead, TooLarge) {
  const std::string text = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  EXPECT_EQ(parse(text, text.size()).status, ParseStatus::done);
  const auto r = parse(text, text.size() - 1);
  ASSERT_EQ(r.status, ParseStatus::rejected);
  EXPECT_EQ(r.error, HttpError::too_large);
  const std::string endless = "GET / HTTP/1.1\r\nX-Filler: " + std::string(10000, 'a');
  EXPECT_EQ(parse(endless).error, HttpError::too_large);
}

TEST(HttpHead, ConnectIsRefusedAsSoonAsTheMethodEnds) {
  expect_rejected("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
                  HttpError::connect_refused);
  EXPECT_EQ(bytes_until_rejected("CONNECT example.com:443 HTTP/1.1\r\n"), 8u);
}

TEST(HttpHead, DuplicateHost) {
  expect_rejected("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", HttpError::duplicate_host);
  expect_rejected("GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                  HttpError::duplicate_host);
}

TEST(HttpHead, GarbageIsNotHttpEarly) {
  EXPECT_EQ(bytes_until_rejected("\x16\x03\x01\x02\x00\x01"), 1u);
  EXPECT_EQ(bytes_until_rejected("\r\nGET / HTTP/1.1\r\n"), 1u);
  EXPECT_EQ(bytes_until_rejected(" GET / HTTP/1.1\r\n"), 1u);
  EXPECT_EQ(bytes_until_rejected("SSH-2.0-OpenSSH_9.2p1\r\n"), 22u);
  EXPECT_EQ(bytes_until_rejected(std::string(40, 'A')), 33u);
  expect_rejected("\x16\x03\x01\x02\x00\x01", HttpError::not_http);
  expect_rejected("GET\r\n\r\n", HttpError::not_http);
  expect_rejected("GET\n\n", HttpError::not_http);
  expect_rejected("GET / FOO/1.1\r\n\r\n", HttpError::not_http);
  expect_rejected("hello world foo\r\n", HttpError::not_http);
}

TEST(HttpHead, BadRequestLines) {
  expect_rejected("GET HTTP/1.1\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET  / HTTP/1.1\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET / HTTP/1.1 \r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET / HTTP/2.0\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET / http/1.1\r\n\r\n", HttpError::not_http);
  expect_rejected("GET /\x01 HTTP/1.1\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET / HTTP/1.1\rX\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET * HTTP/1.1\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET example.com HTTP/1.1\r\n\r\n", HttpError::bad_request_line);
  expect_rejected("GET ftp://example.com/ HTTP/1.1\r\n\r\n", HttpError::bad_request_line);
}

TEST(HttpHead, BadAbsoluteAuthority) {
  expect_rejected("GET http://user@a.example/ HTTP/1.1\r\n\r\n", HttpError::bad_host);
  expect_rejected("GET http:///x HTTP/1.1\r\n\r\n", HttpError::bad_host);
  expect_rejected("GET http://a.example:99999/ HTTP/1.1\r\n\r\n", HttpError::bad_host);
  expect_rejected("GET http://[::1/ HTTP/1.1\r\n\r\n", HttpError::bad_host);
}

TEST(HttpHead, BadHeaders) {
  expect_rejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n", HttpError::bad_header);
  expect_rejected("GET / HTTP/1.1\r\nno colon here\r\n\r\n", HttpError::bad_header);
  expect_rejected("GET / HTTP/1.1\r\n: empty name\r\n\r\n", HttpError::bad_header);
  expect_rejected("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", HttpError::bad_header);
  constexpr char kNul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
  expect_rejected(std::string_view(kNul, sizeof kNul - 1), HttpError::bad_header);
  expect_rejected("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", HttpError::bad_header);
  expect_rejected("GET / HTTP/1.1\r\nX: \x7f\r\n\r\n", HttpError::bad_header);
  // obs-text in values is allowed.
  expect_done("GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\nHost: a\r\n\r\n");
}

TEST(HttpHead, BadHostValues) {
  for (std::string_view host : {"exa mple.com", "::1", "[::1", "[1.2.3.4]", "[::1]x", "x:99999",
                                "x:0", "x:abc", "x:80:80", ":80", "a/b", "a@b", "x:123456"}) {
    const std::string text = "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    expect_rejected(text, HttpError::bad_host);
  }
}

TEST(HttpHead, ErrorTokensAreStable) {
  EXPECT_EQ(to_string(HttpError::not_http), "not_http");
  EXPECT_EQ(to_string(HttpError::bad_request_line), "bad_request_line");
  EXPECT_EQ(to_string(HttpError::bad_header), "bad_header");
  EXPECT_EQ(to_string(HttpError::connect_refused), "connect_refused");
  EXPECT_EQ(to_string(HttpError::too_large), "too_large");
  EXPECT_EQ(to_string(HttpError::bad_host), "bad_host");
  EXPECT_EQ(to_string(HttpError::duplicate_host), "duplicate_host");
}

TEST(HttpErrorResponse, IsACompleteClosingResponse) {
  EXPECT_EQ(http_error_response(421, "Misdirected Request"),
            "HTTP/1.1 421 Misdirected Request\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 24\r\n"
            "Connection: close\r\n"
            "\r\n"
            "421 Misdirected Request\n");
}

}  // namespace
}  // namespace sniproxy::protocol
