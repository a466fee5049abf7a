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
  if (!r.detail.empty()) line += ",\"detail\":" + json_string(r.detail);
  return line + "}\n";
}

Result<std::shared_ptr<AccessLog>> AccessLog::open(const config::AccessLog& cfg) {
  auto log = std::make_shared<AccessLog>();
  log->format_ = cfg.format;
  if (cfg.path == "off") {
    log->fd_ = -1;
  } else if (cfg.path == "stderr") {
    log->fd_ = STDERR_FILENO;
  } else if (cfg.path == "stdout") {
    log->fd_ = STDOUT_FILENO;
  } else {
    int fd = ::open(cfg.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
      return make_error(
          fmt::format("cannot open access log {}: {}", cfg.path, std::strerror(errno)));
    log->owned_.reset(fd);
    log->fd_ = fd;
  }
  return log;
}

void AccessLog::write(const AccessRecord& record) const {
  if (fd_ < 0) return;
  const std::string ts = log::timestamp_now();
  const std::string line = format_ == config::LogFormat::json ? format_access_json(record, ts)
                                                              : format_access_text(record, ts);
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk must not stop the proxy
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace sniproxy::observe
