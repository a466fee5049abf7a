#pragma once
// Debian's ngtcp2 example client and server (packages ngtcp2-client,
// ngtcp2-server) for the tests that make a real HTTP/3 download through
// the proxy: where they are, a throwaway certificate for "localhost" (their
// client, 0.12, sends that SNI for a numeric host), the server as a
// script the ProxyProcess class can start (it passes --config to what it
// runs, which the script drops), and the client run with a hosts file of
// its own, so that it connects to a name and sends that name as its SNI.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "proxy_process.hpp"

namespace sniproxy::integration {

inline constexpr const char* kNgtcp2Client = "/usr/bin/gtlsclient";
inline constexpr const char* kNgtcp2Server = "/usr/sbin/gtlsserver";

bool ngtcp2_installed();

// Writes h3.key and h3.pem (self-signed, CN=localhost) into `dir`; "" or
// what openssl said.
std::string make_localhost_certificate(const std::filesystem::path& dir);

// Writes `dir`/h3server-<port>.sh, serving `htdocs` on host:port with the
// certificate above, and returns its path.
std::filesystem::path write_h3_server_script(const std::filesystem::path& dir,
                                             const std::filesystem::path& htdocs,
                                             const std::string& host, std::uint16_t port);

// Runs gtlsclient ARGS with `hosts` bind-mounted on /etc/hosts in a mount
// namespace of its own (unshare -m), so that the names it is given resolve
// as that file says and nowhere else; bounded by `timeout`.
CommandResult run_ngtcp2_client(const std::filesystem::path& hosts,
                                const std::vector<std::string>& args,
                                const std::filesystem::path& dir, milliseconds timeout);

}  // namespace sniproxy::integration
