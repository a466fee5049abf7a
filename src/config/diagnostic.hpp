#pragma once
// One problem found in a configuration file, located at FILE:LINE:COL.
#include <string>

#include "config/config.hpp"

namespace sniproxy::config {

struct Diagnostic {
  SourceLocation where;
  std::string message;
  // "FILE:LINE:COL: message", the form editors and compilers use.
  [[nodiscard]] std::string to_string() const;
};

}  // namespace sniproxy::config
