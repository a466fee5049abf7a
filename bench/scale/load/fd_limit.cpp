#include "fd_limit.hpp"

#include <sys/resource.h>

#include <fstream>
#include <string>

#include "fail.hpp"

namespace scale_load {

void raise_fd_limit(std::uint64_t wanted) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur >= wanted) return;
  rlimit raised{wanted, std::max<rlim_t>(rl.rlim_max, wanted)};
  if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return;
  std::uint64_t nr_open = 0;
  std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
  proxy_load::die_errno("cannot raise RLIMIT_NOFILE to " + std::to_string(wanted) +
                        " (fs.nr_open=" + std::to_string(nr_open) + "; needs root)");
}

}  // namespace scale_load
