#include "access_log.hpp"

#include <cctype>
#include <thread>

#include "temp_dir.hpp"

namespace sniproxy::integration {

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) break;  // an unfinished last line is not a line yet
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

AccessEntry parse_access_line(std::string_view line) {
  AccessEntry entry;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    auto eq = line.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(line.substr(i, eq - i));
    std::string value;
    i = eq + 1;
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        value += line[i++];
      }
      ++i;
    } else {
      while (i < line.size() && line[i] != ' ') value += line[i++];
    }
    entry[key] = value;
  }
  return entry;
}

std::optional<std::string> wait_access_line(const std::filesystem::path& log,
                                            std::uint16_t client_port, Deadline deadline) {
  const std::string needle = "127.0.0.1:" + std::to_string(client_port);
  while (true) {
    for (const auto& line : split_lines(read_file(log))) {
      auto pos = line.find(needle);
      // The port must not continue with more digits (":1234" vs ":12345").
      if (pos != std::string::npos &&
          (pos + needle.size() == line.size() ||
           !std::isdigit(static_cast<unsigned char>(line[pos + needle.size()]))))
        return line;
    }
    if (deadline.expired()) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

std::optional<AccessEntry> wait_access_entry(const std::filesystem::path& log,
                                             std::uint16_t client_port, Deadline deadline) {
  const std::string suffix = ":" + std::to_string(client_port);
  while (true) {
    for (const auto& line : split_lines(read_file(log))) {
      AccessEntry e = parse_access_line(line);
      auto c = e.find("client");
      if (c != e.end() && c->second.size() > suffix.size() &&
          c->second.compare(c->second.size() - suffix.size(), suffix.size(), suffix) == 0)
        return e;
    }
    if (deadline.expired()) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

}  // namespace sniproxy::integration
