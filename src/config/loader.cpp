#include "config/loader.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.hpp"
#include "config/admin_section.hpp"
#include "config/known_keys.hpp"
#include "config/listeners.hpp"
#include "config/pool_section.hpp"
#include "config/process_section.hpp"
#include "config/quic_section.hpp"
#include "config/reactor_section.hpp"
#include "config/retrans_section.hpp"
#include "config/routes.hpp"
#include "config/sections.hpp"
#include "config/table_reader.hpp"
#include "config/xdp_section.hpp"

namespace sniproxy::config {

namespace {

// Far beyond any real config; stops `--config /dev/zero` from eating memory.
constexpr std::size_t kMaxFileSize = std::size_t{16} * 1024 * 1024;

// Reads all of `path` into `text`; returns "" or why it could not.
std::string read_whole_file(const std::string& path, std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::strerror(errno);
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::strerror(errno);
    if (n == 0) return "";
    if (text.size() + static_cast<std::size_t>(n) > kMaxFileSize) return "larger than 16 MiB";
    text.append(buf, static_cast<std::size_t>(n));
  }
}

// Errors about the file as a whole are placed at its first character.
SourceLocation file_start(const DiagnosticSink& sink) {
  return SourceLocation{sink.file(), 1, 1};
}

Config read_config(const toml::table& root, DiagnosticSink& sink, const FileReader& read_file) {
  TableReader top(root, "", kTopLevelKeys, sink);
  Config c;
  c.file = sink.file();
  if (auto v = top.integer("workers", 0, 1024)) c.workers = static_cast<std::uint32_t>(*v);
  if (auto v = top.choice("log_level", kLogLevels)) c.log_level = std::string(*v);
  if (const auto* t = top.table("timeouts")) c.timeouts = read_timeouts(*t, sink);
  if (const auto* t = top.table("limits")) c.limits = read_limits(*t, sink);
  if (const auto* t = top.table("dns")) c.dns = read_dns(*t, sink);
  if (const auto* t = top.table("access_log")) c.access_log = read_access_log(*t, sink);
  if (const auto* t = top.table("forwarding")) c.forwarding = read_forwarding(*t, sink);
  // Pools before the routes and listeners that name them; after [timeouts],
  // whose connect is their default.
  if (const auto* t = top.table("pools")) c.pools = read_pools(*t, c.timeouts, sink);
  if (const auto* t = top.table("tables")) c.tables = read_tables(*t, c.pools, sink);
  if (const auto* t = top.table("xdp")) c.xdp = read_xdp(*t, sink, read_file);
  if (const auto* t = top.table("process")) c.process = read_process(*t, sink);
  if (const auto* t = top.table("admin")) c.admin = read_admin(*t, sink);
  if (const auto* t = top.table("retrans")) c.retrans = read_retrans(*t, sink);
  if (const auto* t = top.table("reactor")) c.reactor = read_reactor(*t, sink);
  if (const auto* t = top.table("quic")) c.quic = read_quic(*t, sink);

  const toml::node* listeners = top.find("listener");
  if (listeners == nullptr) {
    sink.error(file_start(sink), "no [[listener]] defined; at least one is required");
  } else if (const auto* list = listeners->as_array()) {
    c.listeners = read_listeners(*list, c.tables, c.pools, sink);
    if (list->empty()) sink.error(listeners->source(), "at least one [[listener]] is required");
  } else {
    top.report_type("listener", *listeners, "an array of tables (write [[listener]])");
  }
  return c;
}

}  // namespace

Result<std::string> read_file_from_disk(const std::string& path) {
  std::string text;
  if (auto error = read_whole_file(path, text); !error.empty()) return make_error(error);
  return text;
}

LoadResult load_string(std::string_view toml_text, std::string_view file_name,
                       const FileReader& read_file) {
  DiagnosticSink sink{std::string(file_name)};
  LoadResult result;
  toml::table root;
  try {
    root = toml::parse(toml_text, file_name);
  } catch (const toml::parse_error& e) {
    // The TOML is unusable past its first syntax error: that is the only one.
    sink.error(e.source(), std::string(e.description()));
    result.errors = sink.take_sorted();
    return result;
  }
  Config config = read_config(root, sink, read_file);
  result.errors = sink.take_sorted();
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

LoadResult load_file(const std::string& path) {
  std::string text;
  if (auto error = read_whole_file(path, text); !error.empty()) {
    LoadResult result;
    result.errors.push_back(
        Diagnostic{SourceLocation{path, 0, 0}, fmt::format("cannot read: {}", error)});
    return result;
  }
  return load_string(text, path);
}

}  // namespace sniproxy::config
