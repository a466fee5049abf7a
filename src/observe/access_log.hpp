#pragma once
// The access log: one line per connection when it ends, text (key=value) or
// JSON, appended with one write(2) per line.
#include <atomic>
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
  bool ech = false;  // the hello offered Encrypted Client Hello
  // A datagram session (QUIC): its packets each way are logged too.
  bool datagrams = false;
  std::uint64_t packets_in = 0;   // client -> backend
  std::uint64_t packets_out = 0;  // backend -> client
  // The address the client sent to (a datagram session; on a wildcard
  // listener it names which of the box's addresses); empty: not logged.
  std::string local;
  // Of the packets above, those the kernel fast path carried (a session
  // that entered it); their bytes are in bytes_in/bytes_out too.
  bool fast_path = false;
  std::uint64_t fast_path_packets_in = 0;
  std::uint64_t fast_path_packets_out = 0;
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

  // Opens the path again (after logrotate moved the file away) and points
  // every later write, from any thread, at the new file; the old descriptor
  // closes when the last write still using it returns. On an error the old
  // file stays in use. Not a file (stderr, stdout, off): nothing to do.
  // Not thread-safe against itself: one caller (the supervisor) at a time.
  Result<bool> reopen();
  [[nodiscard]] bool is_file() const { return is_file_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  // Whether `cfg` names this destination in this format (a reload can keep
  // the object, so a later reopen reaches connections from before it).
  [[nodiscard]] bool same_as(const config::AccessLog& cfg) const {
    return cfg.path == path_ && cfg.format == format_;
  }

 private:
  struct Target {
    UniqueFd owned;  // invalid for stderr/stdout/off
    int fd = -1;
  };
  std::atomic<std::shared_ptr<const Target>> target_;
  std::string path_;
  bool is_file_ = false;
  config::LogFormat format_ = config::LogFormat::text;
};

}  // namespace sniproxy::observe
