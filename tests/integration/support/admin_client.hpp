#pragma once
// A client of the proxy's [admin] endpoint for tests: one HTTP request per
// connection, and a parser of the Prometheus text it serves.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sniproxy::integration {

struct HttpAnswer {
  int status = 0;  // 0 when no HTTP answer arrived
  std::string head;
  std::string body;
};

// Sends `request` to 127.0.0.1:port and reads the answer until the close
// (bounded: 3 s to connect and send, 5 s to read).
HttpAnswer http_exchange(std::uint16_t port, const std::string& request);
HttpAnswer http_get(std::uint16_t port, const std::string& path);

// Samples of a Prometheus text exposition, keyed by `name{labels}` as
// written. `problems` lists lines that break the format: a sample outside
// the family of the # TYPE line before it, or a value that is no number.
struct Scrape {
  std::map<std::string, double> samples;
  std::vector<std::string> problems;

  // The sample's value; -1 when it is missing.
  [[nodiscard]] double at(const std::string& key) const;
  // The growth of `key` since `earlier` (a missing sample counts as 0 there).
  [[nodiscard]] double since(const Scrape& earlier, const std::string& key) const;
};

Scrape parse_exposition(const std::string& text);

}  // namespace sniproxy::integration
