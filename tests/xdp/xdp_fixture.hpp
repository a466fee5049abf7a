#pragma once
// A test with the real sniproxy in the server namespace of a Topology, its
// XDP filter on the server end of the veth, a backend beside it, and helpers
// to connect or send raw frames from the client namespace and to read the
// counters the proxy logs.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/loader/xdp_device.hpp"
#include "bpf/xdp/xdp_maps.hpp"
#include "frames.hpp"
#include "support/backend.hpp"
#include "support/proxy_process.hpp"
#include "support/socket_io.hpp"
#include "support/temp_dir.hpp"
#include "topology.hpp"

namespace sniproxy::xdp_test {

using integration::Deadline;
using integration::milliseconds;

inline constexpr std::uint16_t kPort = 8443;
inline constexpr std::string_view kServerName = "xdp.test";
inline constexpr std::string_view kBackendGreeting = "backend:hello";

class XdpProxyTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // A whole config: both listeners (0.0.0.0 and [::] on kPort), the route to
  // the backend, and [xdp] on the server interface with `xdp_lines` added.
  [[nodiscard]] std::string config(const std::string& xdp_lines) const;
  // Writes `toml` to proxy.toml and starts the proxy in the server
  // namespace; "" once it listens, else why not.
  // `binary`: a launcher script around the proxy; empty: SNIPROXY_BIN.
  std::string start_proxy(const std::string& toml, const std::string& binary = "");
  // Runs the binary to its exit (bounded) in the server namespace.
  integration::CommandResult run_proxy_to_exit(const std::string& toml);
  [[nodiscard]] std::filesystem::path file(std::string_view name) const { return dir_.file(name); }

  // A TCP connect from `source` (an address of the client side) to the
  // server's address of the same family.
  integration::ConnectResult connect_from(std::string_view source, milliseconds timeout);
  // True when a connection from `source` is proxied to the backend and back.
  bool proxied_from(std::string_view source);
  // A connect from `source` that must fail: true when it timed out, the
  // sign of SYNs dropped without an answer.
  bool silently_dropped_from(std::string_view source);

  // Sends the frames out of the client end of the veth; how many went.
  std::size_t send_frames(const std::vector<frames::Bytes>& frames);
  // A SYN (or other segment) from `source` to the server, with the right MACs.
  [[nodiscard]] static frames::TcpFrame segment_from(std::string_view source,
                                                     std::uint16_t port = kPort);

  // The counters of the last event=xdp_counters line, if any.
  [[nodiscard]] std::optional<bpf::XdpCounters> last_counters() const;
  // Waits (bounded) for a counters line that satisfies `done`; returns the
  // last counters seen either way.
  std::optional<bpf::XdpCounters> wait_counters(
      const std::function<bool(const bpf::XdpCounters&)>& done, milliseconds timeout);
  // The XDP state of the server interface, read inside its namespace.
  bpf::XdpDevice server_device();

  Topology topology_;
  integration::TempDir dir_;
  std::unique_ptr<integration::Backend> backend_;
  std::unique_ptr<integration::ProxyProcess> proxy_;
};

std::string describe(const bpf::XdpCounters& c);

}  // namespace sniproxy::xdp_test
