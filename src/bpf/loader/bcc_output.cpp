#include "bpf/loader/bcc_output.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <vector>

namespace sniproxy::bpf {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

void write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t written = ::write(fd, text.data(), text.size());
    if (written <= 0) return;
    text.remove_prefix(static_cast<std::size_t>(written));
  }
}

// Verifier lines that describe instructions or statistics, not the problem.
bool is_verifier_noise(std::string_view line) {
  if (line.empty()) return true;
  if (std::isdigit(static_cast<unsigned char>(line.front()))) return true;  // "12: (85) call ..."
  static constexpr std::string_view kNoise[] = {
      "; ",
      "processed ",
      "func#",
      "last_idx",
      "regs=",
      "from ",
      "mark_precise",
      "Validating",
      "verification time",
      "stack depth",
      "bpf: ",
      "HINT: ",
      "reg type unsupported for arg#",
  };
  return std::ranges::any_of(kNoise,
                             [line](std::string_view prefix) { return starts_with(line, prefix); });
}

}  // namespace

StdioCapture::StdioCapture() {
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  memfd_ = ::memfd_create("sniproxy-bcc-output", MFD_CLOEXEC);
  if (memfd_ < 0) return;  // capture unavailable: output goes where it would have
  saved_stdout_ = ::dup(STDOUT_FILENO);
  saved_stderr_ = ::dup(STDERR_FILENO);
  ::dup2(memfd_, STDOUT_FILENO);
  ::dup2(memfd_, STDERR_FILENO);
}

StdioCapture::~StdioCapture() {
  finish();
}

std::string StdioCapture::finish() {
  if (memfd_ < 0) return {};
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  if (saved_stdout_ >= 0) ::dup2(saved_stdout_, STDOUT_FILENO);
  if (saved_stderr_ >= 0) ::dup2(saved_stderr_, STDERR_FILENO);
  for (int* fd : {&saved_stdout_, &saved_stderr_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  std::string captured;
  char buffer[8192];
  off_t offset = 0;
  for (;;) {
    ssize_t got = ::pread(memfd_, buffer, sizeof buffer, offset);
    if (got <= 0) break;
    captured.append(buffer, static_cast<std::size_t>(got));
    offset += got;
  }
  ::close(memfd_);
  memfd_ = -1;
  for (std::string_view line : split_lines(captured)) {
    if (starts_with(line, "ts=")) write_all(STDERR_FILENO, std::string(line) + "\n");
  }
  return captured;
}

std::optional<std::string> first_compile_error(std::string_view output) {
  for (std::string_view line : split_lines(output)) {
    if (line.find(": error: ") != std::string_view::npos ||
        line.find(": fatal error: ") != std::string_view::npos) {
      return std::string(line);
    }
  }
  return std::nullopt;
}

bool mentions_permission_denied(std::string_view output) {
  return output.find("Operation not permitted") != std::string_view::npos;
}

std::string verifier_reason(std::string_view log) {
  std::string_view reason;
  for (std::string_view line : split_lines(log)) {
    // The verifier stops at the first problem, so its description is the
    // last line that is not an instruction dump or a statistic.
    if (!is_verifier_noise(line)) reason = line;
  }
  return std::string(reason);
}

LoadFailure classify_load_failure(std::string_view output) {
  constexpr std::string_view kFailed = "bpf: Failed to load program: ";
  LoadFailure failure;
  std::size_t at = output.find(kFailed);
  if (at == std::string_view::npos) {
    auto lines = split_lines(output);
    for (std::string_view line : lines) {
      if (!line.empty()) {
        failure.detail = std::string(line);
        break;
      }
    }
    if (mentions_permission_denied(output)) failure.kind = LoadFailureKind::permission;
    return failure;
  }
  std::string_view rest = output.substr(at + kFailed.size());
  std::size_t eol = rest.find('\n');
  std::string_view error = rest.substr(0, eol);
  std::string_view log = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
  std::string reason = verifier_reason(log);
  if (reason.empty() && error == "Operation not permitted") {
    failure.kind = LoadFailureKind::permission;
    failure.detail = std::string(error);
  } else if (!reason.empty()) {
    failure.kind = LoadFailureKind::verifier;
    failure.detail = reason;
  } else {
    failure.detail = std::string(error);
  }
  return failure;
}

}  // namespace sniproxy::bpf
