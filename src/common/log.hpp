#pragma once
// Operator logs: one line per event, key=value, written with one write(2) so
// lines from different workers never interleave.
#include <fmt/format.h>

#include <string>
#include <string_view>

namespace sniproxy::log {

enum class Level { debug, info, warn, error };

void set_min_level(Level level);
bool enabled(Level level);
// Writes "ts=... level=... event=<event> <fields>\n" to stderr.
void write(Level level, std::string_view event, std::string_view fields);
// RFC 3339 UTC with milliseconds, for log and access-log lines.
std::string timestamp_now();
// A value quoted when it holds spaces, quotes or '=' (so lines stay parseable).
std::string quote(std::string_view value);

template <class... Args>
void info(std::string_view event, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::info)) write(Level::info, event, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warn(std::string_view event, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::warn)) write(Level::warn, event, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void error(std::string_view event, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::error))
    write(Level::error, event, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(std::string_view event, fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(Level::debug))
    write(Level::debug, event, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace sniproxy::log
