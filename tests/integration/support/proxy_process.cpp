#include "proxy_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "temp_dir.hpp"

extern char** environ;

namespace sniproxy::integration {

namespace {

pid_t spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::filesystem::path& out, const std::filesystem::path& err,
            const std::vector<std::string>& extra_env = {}) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  // The test's environment plus `extra_env` ("KEY=VALUE"), which wins: glibc's
  // getenv returns the first match, so the extras go first.
  std::vector<char*> envp;
  for (const auto& e : extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Polls waitpid until the child exits or the timeout passes.
std::optional<int> reap(pid_t pid, milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_status(status);
    if (r < 0) return -1;
    if (Clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

std::string tail(const std::string& text, std::size_t n = 4000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

}  // namespace

std::string sniproxy_binary() {
  const char* bin = std::getenv("SNIPROXY_BIN");
  return bin == nullptr ? "" : bin;
}

int count_occurrences(std::string_view haystack, std::string_view needle) {
  int n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos;
       pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

ProxyProcess::ProxyProcess(std::string binary, std::filesystem::path config_path,
                           std::filesystem::path dir)
    : binary_(std::move(binary)), config_(std::move(config_path)), dir_(std::move(dir)) {}

ProxyProcess::~ProxyProcess() {
  if (pid_ > 0 && !exit_code_) {
    ::kill(pid_, SIGKILL);
    reap(pid_, milliseconds(5000));
  }
}

std::string ProxyProcess::start(const std::vector<std::uint16_t>& ports, milliseconds timeout) {
  if (binary_.empty()) return "SNIPROXY_BIN is not set";
  pid_ = spawn(binary_, {"--config", config_.string()}, dir_ / "proxy.stdout",
               dir_ / "proxy.stderr", env_);
  if (pid_ < 0) return "cannot start " + binary_;
  const Deadline deadline = Deadline::in(timeout);
  for (std::uint16_t port : ports) {
    while (true) {
      if (!running()) {
        return "sniproxy exited with code " + std::to_string(exit_code_.value_or(-1)) +
               " before listening on " + std::to_string(port) + "; stderr:\n" + tail(log());
      }
      auto c = connect_tcp(loopback(port), Deadline::in(milliseconds(200)));
      if (c.fd) break;
      if (deadline.expired()) {
        return "port " + std::to_string(port) + " did not accept within " +
               std::to_string(timeout.count()) + " ms; stderr:\n" + tail(log());
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  return "";
}

void ProxyProcess::signal(int signo) const {
  if (signo == SIGTERM || signo == SIGINT || signo == SIGKILL) stop_requested_ = true;
  if (pid_ > 0 && !exit_code_) ::kill(pid_, signo);
}

std::optional<int> ProxyProcess::wait_exit(milliseconds timeout) {
  if (exit_code_ || pid_ <= 0) return exit_code_;
  exit_code_ = reap(pid_, timeout);
  return exit_code_;
}

bool ProxyProcess::running() {
  if (pid_ <= 0) return false;
  if (exit_code_) return false;
  exit_code_ = reap(pid_, milliseconds(0));
  return !exit_code_;
}

std::string ProxyProcess::log() const {
  return read_file(dir_ / "proxy.stderr");
}

bool ProxyProcess::wait_for_log(std::string_view needle, Deadline deadline, int count) const {
  while (true) {
    if (count_occurrences(log(), needle) >= count) return true;
    if (deadline.expired()) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

CommandResult run_command(const std::string& binary, const std::vector<std::string>& args,
                          const std::filesystem::path& dir, milliseconds timeout) {
  CommandResult r;
  const auto out = dir / "command.stdout";
  const auto err = dir / "command.stderr";
  pid_t pid = spawn(binary, args, out, err);
  if (pid < 0) {
    r.err = "cannot start " + binary;
    return r;
  }
  r.exit_code = reap(pid, timeout);
  if (!r.exit_code) {
    ::kill(pid, SIGKILL);
    reap(pid, milliseconds(5000));
  }
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

}  // namespace sniproxy::integration
