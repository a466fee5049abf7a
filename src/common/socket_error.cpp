#include "common/socket_error.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sniproxy {

int take_socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

}  // namespace sniproxy
