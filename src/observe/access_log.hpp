#pragma once
// The access log: one line per connection when it ends, text (key=value) or
// JSON, appended with one write(2) per line.
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "config/config.hpp"
#include "observe/outcome.hpp"

namespace sniproxy::observe {

struct AccessRecord {
  std::string client;  // "ip:port"
  std::string listener;
  std::string server_name;      // empty: none
  std::string backend;          // empty: none
  std::uint64_t bytes_in = 0;   // client -> backend
  std::uint64_t bytes_out = 0;  // backend -> client
  std::uint64_t duration_ms = 0;
  std::string mode;  // forwarding mode; empty when it never forwarded
  Outcome outcome = Outcome::ok;
  std::string detail;  // why, for failures (parse error, errno text)
};

std::string format_access_text(const AccessRecord& r, const std::string& timestamp);
std::string format_access_json(const AccessRecord& r, const std::string& timestamp);

class AccessLog {
 public:
  // Opens the destination ("stderr", "stdout", "off", or a file opened with
  // O_APPEND, created 0640).
  static Result<std::shared_ptr<AccessLog>> open(const config::AccessLog& cfg);
  void write(const AccessRecord& record) const;

 private:
  UniqueFd owned_;
  int fd_ = -1;
  config::LogFormat format_ = config::LogFormat::text;
};

}  // namespace sniproxy::observe
