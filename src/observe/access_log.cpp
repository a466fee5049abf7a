#include "observe/access_log.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/json.hpp"
#include "common/log.hpp"

namespace sniproxy::observe {

namespace {
std::string or_dash(const std::string& s) {
  return s.empty() ? "-" : log::quote(s);
}

}  // namespace

std::string format_access_text(const AccessRecord& r, const std::string& timestamp) {
  std::string line = fmt::format(
      "ts={} event=access client={} listener={} server_name={} backend={} bytes_in={} "
      "bytes_out={} duration_ms={} mode={} outcome={}",
      timestamp, r.client, log::quote(r.listener), or_dash(r.server_name), or_dash(r.backend),
      r.bytes_in, r.bytes_out, r.duration_ms, r.mode.empty() ? "-" : r.mode, to_string(r.outcome));
  // Only when offered, before `detail` (which stays last): lines without ECH
  // read as before.
  if (r.ech) line += " ech=1";
  if (r.datagrams)
    line += fmt::format(" packets_in={} packets_out={}", r.packets_in, r.packets_out);
  if (!r.local.empty()) line += " local=" + r.local;
  if (r.fast_path)
    line += fmt::format(" fast_path_packets_in={} fast_path_packets_out={}", r.fast_path_packets_in,
                        r.fast_path_packets_out);
  if (!r.detail.empty()) line += " detail=" + log::quote(r.detail);
  return line + "\n";
}

std::string format_access_json(const AccessRecord& r, const std::string& timestamp) {
  std::string line = fmt::format(
      "{{\"ts\":{},\"event\":\"access\",\"client\":{},\"listener\":{},\"server_name\":{},"
      "\"backend\":{},\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{},\"mode\":{},"
      "\"outcome\":\"{}\"",
      json_string(timestamp), json_string(r.client), json_string(r.listener),
      r.server_name.empty() ? "null" : json_string(r.server_name),
      r.backend.empty() ? "null" : json_string(r.backend), r.bytes_in, r.bytes_out, r.duration_ms,
      r.mode.empty() ? "null" : json_string(r.mode), to_string(r.outcome));
  if (r.ech) line += ",\"ech\":true";
  if (r.datagrams)
    line += fmt::format(R"(,"packets_in":{},"packets_out":{})", r.packets_in, r.packets_out);
  if (!r.local.empty()) line += ",\"local\":" + json_string(r.local);
  if (r.fast_path)
    line += fmt::format(R"(,"fast_path_packets_in":{},"fast_path_packets_out":{})",
                        r.fast_path_packets_in, r.fast_path_packets_out);
  if (!r.detail.empty()) line += ",\"detail\":" + json_string(r.detail);
  return line + "}\n";
}

namespace {
Result<UniqueFd> open_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    const int err = errno;
    Error e = make_error(fmt::format("cannot open access log {}: {}", path, std::strerror(err)));
    e.sys_errno = err;
    return e;
  }
  return UniqueFd(fd);
}
}  // namespace

Result<std::shared_ptr<AccessLog>> AccessLog::open(const config::AccessLog& cfg) {
  auto log = std::make_shared<AccessLog>();
  log->format_ = cfg.format;
  log->path_ = cfg.path;
  auto target = std::make_shared<Target>();
  if (cfg.path == "off") {
    target->fd = -1;
  } else if (cfg.path == "stderr") {
    target->fd = STDERR_FILENO;
  } else if (cfg.path == "stdout") {
    target->fd = STDOUT_FILENO;
  } else {
    auto fd = open_file(cfg.path);
    if (!fd) return fd.error();
    target->owned = std::move(fd).value();
    target->fd = target->owned.get();
    log->is_file_ = true;
  }
  log->target_.store(std::move(target));
  return log;
}

Result<bool> AccessLog::reopen() {
  if (!is_file_) return false;
  auto fd = open_file(path_);
  if (!fd) return fd.error();
  auto target = std::make_shared<Target>();
  target->owned = std::move(fd).value();
  target->fd = target->owned.get();
  // Writers that loaded the old target keep it alive until they return.
  target_.store(std::move(target));
  return true;
}

void AccessLog::write(const AccessRecord& record) const {
  const std::shared_ptr<const Target> target = target_.load();
  const int fd = target ? target->fd : -1;
  if (fd < 0) return;
  const std::string ts = log::timestamp_now();
  const std::string line = format_ == config::LogFormat::json ? format_access_json(record, ts)
                                                              : format_access_text(record, ts);
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk must not stop the proxy
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace sniproxy::observe
