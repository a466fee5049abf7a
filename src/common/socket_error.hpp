#pragma once
// The error a socket holds (SO_ERROR), taken off it: what a failed
// non-blocking connect or a reset left there.
namespace sniproxy {

// 0 when none; errno of the getsockopt itself if that fails.
int take_socket_error(int fd);

}  // namespace sniproxy
