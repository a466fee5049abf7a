#include "config/xdp_section.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "config/interface_list.hpp"
#include "config/known_keys.hpp"
#include "config/prefix.hpp"
#include "config/prefix_list.hpp"

namespace sniproxy::config {

namespace {

constexpr std::int64_t kMaxSynRate = 1'000'000;
// Below this the counters line is noise, not a heartbeat.
constexpr Millis kMinLogInterval{100};

std::string resolve_path(const std::string& config_file, const std::string& path) {
  const std::filesystem::path p(path);
  if (p.is_absolute()) return path;
  return (std::filesystem::path(config_file).parent_path() / p).string();
}

// Returns the resolved path ("" when the key is absent or unusable).
std::string read_prefix_file(TableReader& r, std::string_view key, const FileReader& read_file,
                             std::vector<Prefix>& out) {
  auto path = r.string(key);
  if (!path) return "";
  if (path->empty()) {
    r.error_at(key, fmt::format("'{}' must be a file path", key));
    return "";
  }
  std::string resolved = resolve_path(r.sink().file(), *path);
  auto text = read_file(resolved);
  if (!text.ok()) {
    r.error_at(key, fmt::format("cannot read {} '{}': {}", key, resolved, text.error().message));
    return "";
  }
  PrefixFile parsed = parse_prefix_file(*text);
  const SourceLocation referenced_at = r.where(key);
  for (const PrefixFileError& e : parsed.errors) {
    r.sink().error_in(SourceLocation{resolved, e.line, e.column}, referenced_at, e.message);
  }
  out.insert(out.end(), parsed.prefixes.begin(), parsed.prefixes.end());
  return resolved;
}

void check_size(TableReader& r, std::string_view key, std::string_view file_key,
                const std::vector<Prefix>& prefixes) {
  for (Family family : {Family::v4, Family::v6}) {
    const auto count = static_cast<std::size_t>(
        std::count_if(prefixes.begin(), prefixes.end(),
                      [&](const Prefix& p) { return p.address.family == family; }));
    if (count <= kXdpMaxPrefixes) continue;
    r.error_at(r.has(file_key) ? file_key : key,
               fmt::format("'{}' holds {} {} prefixes; at most {} are allowed", key, count,
                           family == Family::v4 ? "IPv4" : "IPv6", kXdpMaxPrefixes));
  }
}

void sort_unique(std::vector<Prefix>& prefixes) {
  std::sort(prefixes.begin(), prefixes.end());
  prefixes.erase(std::unique(prefixes.begin(), prefixes.end()), prefixes.end());
}

void read_rate(TableReader& r, Xdp& x) {
  if (auto v = r.integer("syn_rate", 0, kMaxSynRate)) x.syn_rate = static_cast<std::uint32_t>(*v);
  if (auto v = r.integer("syn_burst", 1, kMaxSynRate)) {
    if (x.syn_rate == 0) {
      r.error_at("syn_burst", "'syn_burst' needs a 'syn_rate' greater than 0");
    } else {
      x.syn_burst = static_cast<std::uint32_t>(*v);
    }
  }
  if (x.syn_burst == 0) x.syn_burst = x.syn_rate;
}

}  // namespace

Xdp read_xdp(const toml::table& table, DiagnosticSink& sink, const FileReader& read_file) {
  TableReader r(table, "[xdp]", kXdpKeys, sink);
  Xdp x;
  x.interfaces = read_interface_list(r, "interfaces");
  if (auto v = r.choice("mode", kXdpModes)) x.mode = *v;
  read_prefix_list(r, "allow", x.allow);
  x.allow_file = read_prefix_file(r, "allow_file", read_file, x.allow);
  read_prefix_list(r, "deny", x.deny);
  x.deny_file = read_prefix_file(r, "deny_file", read_file, x.deny);
  check_size(r, "allow", "allow_file", x.allow);
  check_size(r, "deny", "deny_file", x.deny);
  sort_unique(x.allow);
  sort_unique(x.deny);
  read_rate(r, x);
  if (auto v = r.duration("log_interval", false)) {
    if (v->count() != 0 && *v < kMinLogInterval) {
      r.error_at("log_interval",
                 fmt::format(R"('log_interval' must be "0s" (never) or at least "{}ms")",
                             kMinLogInterval.count()));
    } else {
      x.log_interval = *v;
    }
  }
  return x;
}

std::string xdp_reload_blocker(const std::optional<Xdp>& running, const std::optional<Xdp>& next) {
  if (running.has_value() != next.has_value()) {
    return next ? "[xdp] was added" : "[xdp] was removed";
  }
  if (!running) return "";
  if (running->interfaces != next->interfaces) return "[xdp] interfaces changed";
  if (running->mode != next->mode) return "[xdp] mode changed";
  return "";
}

}  // namespace sniproxy::config
