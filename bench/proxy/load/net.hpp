#pragma once
// Loopback sockets for the load tools. Targets are restricted to
// 127.0.0.0/8: these tools generate heavy traffic and must never aim it at
// another machine by mistake.
#include <netinet/in.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/unique_fd.hpp"

namespace proxy_load {

using sniproxy::UniqueFd;

// "127.x.y.z:PORT" (or just "PORT", meaning 127.0.0.1); dies on anything else.
sockaddr_in parse_loopback(const std::string& text);
std::string to_string(const sockaddr_in& address);

// A listening socket on `address` (port 0 picks one); `address` gets the
// port actually bound.
UniqueFd listen_on(sockaddr_in& address, int backlog);
// A blocking TCP connection whose sends and receives give up after
// `io_timeout`, so a stuck peer ends in an error rather than a hang.
// Returns an invalid fd (errno set) if the connect fails.
UniqueFd connect_blocking(const sockaddr_in& to, std::chrono::seconds io_timeout);

// Sends everything or returns false (errno set).
bool send_all(int fd, const std::uint8_t* data, std::size_t size);
// Receives exactly `size` bytes or returns false (EOF, error or timeout).
bool recv_exact(int fd, std::uint8_t* data, std::size_t size);
void set_nonblocking(int fd);

}  // namespace proxy_load
