#pragma once
// BCC reports through stdout/stderr, not through its return values: clang
// diagnostics, the verifier log and "could not open bpf map" lines are
// printed. These helpers capture that output while BCC runs and turn it into
// one line an operator can act on.
#include <optional>
#include <string>
#include <string_view>

namespace sniproxy::bpf {

// Redirects fds 1 and 2 into an anonymous memory file while it lives (the
// redirect is process-wide: callers serialise BCC calls and hold it only
// around one BCC call). Lines that look like our own log lines ("ts=...")
// written meanwhile by other threads are replayed to stderr by finish().
class StdioCapture {
 public:
  StdioCapture();
  ~StdioCapture();
  StdioCapture(const StdioCapture&) = delete;
  StdioCapture& operator=(const StdioCapture&) = delete;

  // Restores fds 1 and 2 and returns what was written to them.
  std::string finish();

 private:
  int memfd_ = -1;
  int saved_stdout_ = -1;
  int saved_stderr_ = -1;
};

// "file:line:col: error: message" — the first compiler error, if any.
std::optional<std::string> first_compile_error(std::string_view output);

// How a program load failed, read from bcc_prog_load's printed output
// ("bpf: Failed to load program: <strerror>" followed by the verifier log).
enum class LoadFailureKind { permission, verifier, other };
struct LoadFailure {
  LoadFailureKind kind = LoadFailureKind::other;
  std::string detail;  // verifier: the line naming the problem; other: the first line
};
LoadFailure classify_load_failure(std::string_view output);

// True when the output says a map or program could not be created for lack of privilege.
bool mentions_permission_denied(std::string_view output);

// The line of a verifier log that names the problem (the instruction dump and
// statistics lines around it are skipped). Empty when the log has none.
std::string verifier_reason(std::string_view log);

}  // namespace sniproxy::bpf
