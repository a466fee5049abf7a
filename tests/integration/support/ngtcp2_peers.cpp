#include "ngtcp2_peers.hpp"

#include <fmt/format.h>

#include "proxy_process.hpp"
#include "temp_dir.hpp"

namespace sniproxy::integration {

bool ngtcp2_installed() {
  return std::filesystem::exists(kNgtcp2Client) && std::filesystem::exists(kNgtcp2Server);
}

std::string make_localhost_certificate(const std::filesystem::path& dir) {
  auto made =
      run_command("/usr/bin/openssl",
                  {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                   "-nodes", "-keyout", (dir / "h3.key").string(), "-out",
                   (dir / "h3.pem").string(), "-days", "1", "-subj", "/CN=localhost"},
                  dir);
  return made.exit_code == 0 ? "" : "openssl req failed: " + made.err;
}

std::filesystem::path write_h3_server_script(const std::filesystem::path& dir,
                                             const std::filesystem::path& htdocs,
                                             const std::string& host, std::uint16_t port) {
  const auto script = dir / fmt::format("h3server-{}.sh", port);
  write_file(script, fmt::format("#!/bin/sh\nexec {} -q -d {} {} {} {} {}\n", kNgtcp2Server,
                                 htdocs.string(), host, port, (dir / "h3.key").string(),
                                 (dir / "h3.pem").string()));
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  return script;
}

CommandResult run_ngtcp2_client(const std::filesystem::path& hosts,
                                const std::vector<std::string>& args,
                                const std::filesystem::path& dir, milliseconds timeout) {
  // unshare makes the new namespace's mounts private: the bind mount is
  // this client's alone and goes with it.
  std::vector<std::string> command = {
      "-m",         "/bin/sh",
      "-c",         "mount --bind \"$1\" /etc/hosts || exit 97; shift; exec \"$@\"",
      "sh",         hosts.string(),
      kNgtcp2Client};
  command.insert(command.end(), args.begin(), args.end());
  return run_command("/usr/bin/unshare", command, dir, timeout);
}

}  // namespace sniproxy::integration
