#pragma once
// TOML text -> typed Config. Every problem is reported, in file order, as
// FILE:LINE:COL: message; a Config is produced only when there are none.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/diagnostic.hpp"
#include "config/file_reader.hpp"
#include "config/names.hpp"

namespace sniproxy::config {

struct LoadResult {
  std::optional<Config> config;    // set only if errors is empty
  std::vector<Diagnostic> errors;  // all errors found, in file order
};

// Pure: parses and validates `toml_text`; `file_name` labels messages,
// becomes Config::file and is the directory relative prefix files are found
// in. Files the config names are read with `read_file` (tests pass their own).
LoadResult load_string(std::string_view toml_text, std::string_view file_name,
                       const FileReader& read_file = read_file_from_disk);

// Reads `path` and calls load_string. An unreadable file gives one
// diagnostic, "PATH:0:0: cannot read: <strerror>".
LoadResult load_file(const std::string& path);

}  // namespace sniproxy::config
