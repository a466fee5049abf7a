#pragma once
// Typed reading of one TOML table for the loader: each accessor reports a
// wrong type or an out-of-range value at the value's FILE:LINE:COL and
// returns nullopt, so the loader goes on and finds every other error too.
#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/choices.hpp"
#include "config/config.hpp"
#include "config/diagnostic.hpp"

namespace sniproxy::config {

// Collects the diagnostics of one load.
class DiagnosticSink {
 public:
  explicit DiagnosticSink(std::string file) : file_(std::move(file)) {}
  [[nodiscard]] SourceLocation at(const toml::source_region& region) const;
  void error(const toml::source_region& region, std::string message);
  void error(SourceLocation where, std::string message);
  // An error in another file the config names (an [xdp] prefix file),
  // listed in file order where `referenced_at` (the key naming it) is.
  void error_in(SourceLocation where, const SourceLocation& referenced_at, std::string message);
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] std::size_t error_count() const { return errors_.size(); }
  // Sorted into file order (the TOML tables are visited in key order).
  std::vector<Diagnostic> take_sorted();

 private:
  struct Entry {
    SourceLocation order;  // where it sorts: `where` in this file, else the reference
    Diagnostic diagnostic;
  };
  std::string file_;
  std::vector<Entry> errors_;
};

// "a string", "an integer", ...: for "expected X for 'k', got Y".
std::string_view describe_type(const toml::node& node);

class TableReader {
 public:
  // `section` names the table in messages, e.g. "[dns]" or "[[listener]]";
  // empty for the top level.
  // Keys of `table` not in `known` are reported as unknown right away.
  TableReader(const toml::table& table, std::string section,
              std::span<const std::string_view> known, DiagnosticSink& sink);

  [[nodiscard]] const toml::node* find(std::string_view key) const;
  [[nodiscard]] bool has(std::string_view key) const { return find(key) != nullptr; }
  // Where the table itself starts (its [header] for a declared table).
  [[nodiscard]] SourceLocation where() const { return sink_.at(table_.source()); }
  // Where the value of `key` starts; the table's start if there is none.
  [[nodiscard]] SourceLocation where(std::string_view key) const;
  [[nodiscard]] const std::string& section() const { return section_; }

  std::optional<std::string> string(std::string_view key);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<bool> boolean(std::string_view key);
  // `positive`: zero is refused too.
  std::optional<Millis> duration(std::string_view key, bool positive);
  // A sub-table or array; absent -> nullptr, another type -> reported and
  // nullptr. `expected` words the type error, e.g. "an array of strings".
  const toml::table* table(std::string_view key);
  const toml::array* array(std::string_view key, std::string_view expected);

  template <class E, std::size_t N>
  std::optional<E> choice(std::string_view key, const std::array<Choice<E>, N>& choices) {
    auto text = string(key);
    if (!text) return std::nullopt;
    std::array<std::string_view, N> names;
    for (std::size_t i = 0; i < N; ++i) {
      if (choices[i].name == *text) return choices[i].value;
      names[i] = choices[i].name;
    }
    report_bad_choice(key, *text, names);
    return std::nullopt;
  }

  // Reports `message` at the value of `key`.
  void error_at(std::string_view key, std::string message);
  // Reports that a required key is missing, at the table's start.
  void missing(std::string_view key);
  // "expected EXPECTED for 'KEY', got TYPE" at `node`.
  void report_type(std::string_view key, const toml::node& node, std::string_view expected);
  DiagnosticSink& sink() { return sink_; }

 private:
  void report_bad_choice(std::string_view key, std::string_view value,
                         std::span<const std::string_view> names);

  const toml::table& table_;
  std::string section_;
  DiagnosticSink& sink_;
};

}  // namespace sniproxy::config
