#include "config/diagnostic.hpp"

#include <fmt/format.h>

namespace sniproxy::config {

std::string Diagnostic::to_string() const {
  return fmt::format("{}:{}:{}: {}", where.file, where.line, where.column, message);
}

}  // namespace sniproxy::config
