#pragma once
// Which of a listener's passed sockets a worker thread accepts on. The
// master passes one SO_REUSEPORT socket per thread, so the kernel spreads
// clients as when each thread binds its own; systemd passes one socket,
// which every thread shares.
#include <vector>

#include "common/unique_fd.hpp"

namespace sniproxy::proxy {

// The descriptors (not owned) worker `index` of `workers` takes: with at
// least one socket per worker, every socket j with j % workers == index (a
// master that bound sockets for more workers than this generation has keeps
// them all served, since closing one would reset the clients queued in it);
// with fewer, socket index % count, shared. None when nothing was passed.
std::vector<int> passed_share(const std::vector<UniqueFd>& passed, unsigned index,
                              unsigned workers);

}  // namespace sniproxy::proxy
