// without_io_uring PROGRAM [ARGS...]: runs PROGRAM where io_uring is blocked
// the way container runtimes block it (Docker's default seccomp profile since
// Docker 25, containerd 2.0's RuntimeDefault): io_uring_setup, io_uring_enter
// and io_uring_register fail with EPERM. Everything else is allowed.
#include <seccomp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: without_io_uring PROGRAM [ARGS...]\n");
    return 2;
  }
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
  if (filter == nullptr) {
    std::fprintf(stderr, "without_io_uring: seccomp_init failed\n");
    return 1;
  }
  for (int call :
       {SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter), SCMP_SYS(io_uring_register)}) {
    if (const int rc = seccomp_rule_add(filter, SCMP_ACT_ERRNO(EPERM), call, 0); rc < 0) {
      std::fprintf(stderr, "without_io_uring: seccomp_rule_add: %s\n", std::strerror(-rc));
      return 1;
    }
  }
  if (const int rc = seccomp_load(filter); rc < 0) {
    std::fprintf(stderr, "without_io_uring: seccomp_load: %s\n", std::strerror(-rc));
    return 1;
  }
  seccomp_release(filter);
  ::execv(argv[1], argv + 1);
  std::fprintf(stderr, "without_io_uring: exec %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
