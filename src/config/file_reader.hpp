#pragma once
// Files a config refers to (the [xdp] prefix lists) are read through a
// FileReader, so load_string stays a pure function of its inputs in tests.
#include <functional>
#include <string>

#include "common/result.hpp"

namespace sniproxy::config {

// The whole text of `path`, or an error saying why not ("No such file or
// directory").
using FileReader = std::function<Result<std::string>(const std::string& path)>;

// Reads from the file system; refuses files over 16 MiB.
Result<std::string> read_file_from_disk(const std::string& path);

}  // namespace sniproxy::config
