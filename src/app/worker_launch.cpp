#include "app/worker_launch.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <csignal>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sniproxy::app {

namespace {

constexpr int kFirstPassedFd = 3;  // SD_LISTEN_FDS_START

// In the child, before exec: the sockets at 3, 4, ... without FD_CLOEXEC
// (dup2 clears it), every other descriptor of the master being close-on-exec.
[[noreturn]] void exec_worker(const WorkerLaunch& launch) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  // A master that dies (killed, crashed) takes its workers with it, each
  // draining as on SIGTERM, instead of leaving them serving unsupervised.
  // (The worker sets it again after its privilege drop, which clears it.)
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  const int count = static_cast<int>(launch.sockets.size());
  // First out of the way of 3..3+count, so no dup2 overwrites a source.
  std::vector<int> high;
  for (const auto& s : launch.sockets) {
    const int fd = ::fcntl(s.fd, F_DUPFD_CLOEXEC, kFirstPassedFd + count);
    if (fd < 0) {
      std::fprintf(stderr, "sniproxy worker: dup: %s\n", std::strerror(errno));
      _exit(127);
    }
    high.push_back(fd);
  }
  std::string names;
  for (int i = 0; i < count; ++i) {
    if (::dup2(high[i], kFirstPassedFd + i) < 0) {
      std::fprintf(stderr, "sniproxy worker: dup2: %s\n", std::strerror(errno));
      _exit(127);
    }
    ::close(high[i]);
    names += (i == 0 ? "" : ":") + launch.sockets[i].name;
  }
  ::setenv("LISTEN_FDS", std::to_string(count).c_str(), 1);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  ::setenv("LISTEN_FDNAMES", names.c_str(), 1);
  ::setenv("NOTIFY_SOCKET", launch.notify_address.c_str(), 1);
  ::setenv(kMasterPidVariable, std::to_string(::getppid()).c_str(), 1);
  std::vector<char*> argv{const_cast<char*>(launch.binary.c_str()), const_cast<char*>("--config"),
                          const_cast<char*>(launch.config_path.c_str()), nullptr};
  ::execv(launch.binary.c_str(), argv.data());
  std::fprintf(stderr, "sniproxy worker: exec %s: %s\n", launch.binary.c_str(),
               std::strerror(errno));
  _exit(127);
}

}  // namespace

Result<pid_t> launch_worker(const WorkerLaunch& launch) {
  // The master has one thread, so the child may allocate before exec.
  const pid_t pid = ::fork();
  if (pid < 0) return make_error(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) exec_worker(launch);
  return pid;
}

}  // namespace sniproxy::app
