#include "config/table_reader.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "config/duration.hpp"
#include "config/suggest.hpp"

namespace sniproxy::config {

SourceLocation DiagnosticSink::at(const toml::source_region& region) const {
  return SourceLocation{file_, region.begin.line, region.begin.column};
}

void DiagnosticSink::error(const toml::source_region& region, std::string message) {
  error(at(region), std::move(message));
}

void DiagnosticSink::error(SourceLocation where, std::string message) {
  SourceLocation order = where;
  errors_.push_back(Entry{std::move(order), Diagnostic{std::move(where), std::move(message)}});
}

void DiagnosticSink::error_in(SourceLocation where, const SourceLocation& referenced_at,
                              std::string message) {
  errors_.push_back(Entry{referenced_at, Diagnostic{std::move(where), std::move(message)}});
}

std::vector<Diagnostic> DiagnosticSink::take_sorted() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const Entry& a, const Entry& b) {
    if (a.order.line != b.order.line) return a.order.line < b.order.line;
    return a.order.column < b.order.column;
  });
  std::vector<Diagnostic> sorted;
  sorted.reserve(errors_.size());
  for (Entry& entry : errors_) sorted.push_back(std::move(entry.diagnostic));
  errors_.clear();
  return sorted;
}

std::string_view describe_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

namespace {

std::string in_section(const std::string& section) {
  return section.empty() ? std::string("at the top level") : "in " + section;
}

}  // namespace

TableReader::TableReader(const toml::table& table, std::string section,
                         std::span<const std::string_view> known, DiagnosticSink& sink)
    : table_(table), section_(std::move(section)), sink_(sink) {
  for (auto&& [key, value] : table_) {
    const std::string_view name = key.str();
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string message = fmt::format("unknown key '{}' {}", name, in_section(section_));
    if (auto close = closest_match(name, known))
      message += fmt::format("; did you mean '{}'?", *close);
    // Keys of inline tables and dotted keys carry their own position.
    const auto& region = key.source().begin.line != 0 ? key.source() : value.source();
    sink_.error(region, std::move(message));
  }
}

const toml::node* TableReader::find(std::string_view key) const {
  return table_.get(key);
}

SourceLocation TableReader::where(std::string_view key) const {
  const toml::node* node = find(key);
  return node != nullptr ? sink_.at(node->source()) : where();
}

void TableReader::error_at(std::string_view key, std::string message) {
  sink_.error(where(key), std::move(message));
}

void TableReader::missing(std::string_view key) {
  sink_.error(where(), fmt::format("missing required key '{}' {}", key, in_section(section_)));
}

void TableReader::report_type(std::string_view key, const toml::node& node,
                              std::string_view expected) {
  sink_.error(node.source(),
              fmt::format("expected {} for '{}', got {}", expected, key, describe_type(node)));
}

void TableReader::report_bad_choice(std::string_view key, std::string_view value,
                                    std::span<const std::string_view> names) {
  std::string message = fmt::format("invalid value '{}' for '{}': expected one of {}", value, key,
                                    fmt::join(names, ", "));
  if (auto close = closest_match(value, names))
    message += fmt::format("; did you mean '{}'?", *close);
  error_at(key, std::move(message));
}

std::optional<std::string> TableReader::string(std::string_view key) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* s = node->as_string()) return s->get();
  report_type(key, *node, "a string");
  return std::nullopt;
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min,
                                                 std::int64_t max) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  const auto* i = node->as_integer();
  if (i == nullptr) {
    report_type(key, *node, "an integer");
    return std::nullopt;
  }
  const std::int64_t v = i->get();
  if (v < min || v > max) {
    error_at(key, fmt::format("'{}' must be from {} to {}, got {}", key, min, max, v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* b = node->as_boolean()) return b->get();
  report_type(key, *node, "a boolean (true or false)");
  return std::nullopt;
}

std::optional<Millis> TableReader::duration(std::string_view key, bool positive) {
  const toml::node* node = find(key);
  if (node == nullptr) return std::nullopt;
  if (const auto* i = node->as_integer()) {
    // The one type mistake worth a hint: a number without its unit.
    error_at(key, fmt::format("expected a duration string for '{}', got an integer: a bare number "
                              "has no unit; write e.g. \"{}s\" or \"{}ms\"",
                              key, i->get(), i->get()));
    return std::nullopt;
  }
  auto text = string(key);
  if (!text) return std::nullopt;
  auto parsed = parse_duration(*text);
  if (!parsed) {
    error_at(key,
             fmt::format("invalid duration '{}' for '{}': {}", *text, key, parsed.error().message));
    return std::nullopt;
  }
  if (positive && parsed->count() == 0) {
    error_at(key, fmt::format("'{}' must be greater than 0", key));
    return std::nullopt;
  }
  return *parsed;
}

const toml::table* TableReader::table(std::string_view key) {
  const toml::node* node = find(key);
  if (node == nullptr) return nullptr;
  if (const auto* t = node->as_table()) return t;
  report_type(key, *node, "a table");
  return nullptr;
}

const toml::array* TableReader::array(std::string_view key, std::string_view expected) {
  const toml::node* node = find(key);
  if (node == nullptr) return nullptr;
  if (const auto* a = node->as_array()) return a;
  report_type(key, *node, expected);
  return nullptr;
}

}  // namespace sniproxy::config
