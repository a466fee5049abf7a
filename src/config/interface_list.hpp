#pragma once
// A list of network device names under one key ([xdp] interfaces, [quic]
// fast_path_interfaces): strings, each a valid device name, none twice.
#include <string>
#include <string_view>
#include <vector>

#include "config/table_reader.hpp"

namespace sniproxy::config {

// Absent: reported as missing when `required`, else an empty list.
// An empty array is refused: a list that names nothing is a mistake.
std::vector<std::string> read_interface_list(TableReader& r, std::string_view key,
                                             bool required = true);

}  // namespace sniproxy::config
