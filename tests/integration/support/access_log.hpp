#pragma once
// Reads the proxy's access log: text lines of key=value pairs.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "socket_io.hpp"

namespace sniproxy::integration {

using AccessEntry = std::map<std::string, std::string>;

// key=value pairs of one text line; values may be double-quoted.
AccessEntry parse_access_line(std::string_view line);
std::vector<std::string> split_lines(std::string_view text);

// Waits for the text-format line whose client= ends in ":<client_port>".
std::optional<AccessEntry> wait_access_entry(const std::filesystem::path& log,
                                             std::uint16_t client_port, Deadline deadline);
// Waits for the raw line (any format) that mentions "127.0.0.1:<client_port>".
std::optional<std::string> wait_access_line(const std::filesystem::path& log,
                                            std::uint16_t client_port, Deadline deadline);

}  // namespace sniproxy::integration
