#include "admin_client.hpp"

#include <cstdlib>
#include <sstream>

#include "socket_io.hpp"

namespace sniproxy::integration {

HttpAnswer http_exchange(std::uint16_t port, const std::string& request) {
  HttpAnswer a;
  auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(3000)));
  if (!c.fd) return a;
  if (send_all(c.fd.get(), request, Deadline::in(milliseconds(3000))) != IoStatus::ok) return a;
  auto r = read_until_closed(c.fd.get(), Deadline::in(milliseconds(5000)));
  const std::string text = to_text(r.bytes);
  const auto split = text.find("\r\n\r\n");
  if (split == std::string::npos) return a;
  a.head = text.substr(0, split);
  a.body = text.substr(split + 4);
  if (a.head.rfind("HTTP/1.1 ", 0) == 0) a.status = std::atoi(a.head.c_str() + 9);
  return a;
}

HttpAnswer http_get(std::uint16_t port, const std::string& path) {
  return http_exchange(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

double Scrape::at(const std::string& key) const {
  auto it = samples.find(key);
  return it == samples.end() ? -1 : it->second;
}

double Scrape::since(const Scrape& earlier, const std::string& key) const {
  const double before = earlier.at(key);
  return at(key) - (before < 0 ? 0 : before);
}

Scrape parse_exposition(const std::string& text) {
  Scrape s;
  std::string family;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) {
      s.problems.push_back("no value: " + line);
      continue;
    }
    const std::string key = line.substr(0, space);
    const std::string name = key.substr(0, key.find('{'));
    if (name.rfind(family, 0) != 0) s.problems.push_back("sample outside its family: " + line);
    char* end = nullptr;
    const std::string value = line.substr(space + 1);
    const double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0') s.problems.push_back("bad value: " + line);
    s.samples[key] = v;
  }
  return s;
}

}  // namespace sniproxy::integration
