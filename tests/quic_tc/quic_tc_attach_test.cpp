// How the fast path hooks onto devices: tcx where the kernel has it, the
// clsact qdisc otherwise (or when asked), leaving behind only what was there
// before. Every test skips without root.
#include <net/if.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "bpf/quic_fast_path/quic_fast_path.hpp"
#include "support/netns.hpp"
#include "support/proxy_process.hpp"
#include "support/temp_dir.hpp"
#include "topology.hpp"
#include "udp_io.hpp"

namespace sniproxy::quic_tc_test {
namespace {

using namespace std::chrono_literals;

#define SKIP_UNLESS_ROOT()                                                                     \
  do {                                                                                         \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, CAP_BPF): skipped"; \
  } while (0)

bool kernel_has_tcx() {
  utsname name{};
  ::uname(&name);
  int major = 0, minor = 0;
  std::sscanf(name.release, "%d.%d", &major, &minor);
  return major > 6 || (major == 6 && minor >= 6);
}

// `tc qdisc show dev DEVICE` in namespace `ns`.
std::string qdiscs(const std::string& ns, const std::string& device) {
  integration::TempDir dir;
  auto result = integration::run_command(
      "/usr/sbin/ip", {"netns", "exec", ns, "tc", "qdisc", "show", "dev", device}, dir.path());
  return result.out + result.err;
}

class QuicTcAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_UNLESS_ROOT();
    ASSERT_EQ(topology_.setup(), "");
  }

  // Creates a fast path on both proxy devices in `mode`, inside the proxy ns.
  std::unique_ptr<bpf::QuicFastPath> create(bpf::TcAttachMode mode) {
    std::unique_ptr<bpf::QuicFastPath> path;
    EXPECT_EQ(
        integration::run_in(
            topology_.proxy_ns(),
            [&] {
              bpf::QuicFastPathOptions options;
              options.interfaces = {topology_.proxy_client_if(), topology_.proxy_backend_if()};
              options.attach_mode = mode;
              auto created = bpf::QuicFastPath::create(options);
              if (created.ok()) {
                path = std::move(*created);
              } else {
                ADD_FAILURE() << created.error().message;
              }
            }),
        "");
    return path;
  }

  // One IPv4 datagram client -> backend through a session of `path`.
  void expect_session_forwards(bpf::QuicFastPath& path) {
    UniqueFd client, listener, session, backend;
    ASSERT_EQ(integration::run_in(topology_.client_ns(),
                                  [&] {
                                    client = bound_udp_socket({Topology::client(Family::v4), 0});
                                  }),
              "");
    int client_ifindex = 0, backend_ifindex = 0;
    ASSERT_EQ(integration::run_in(
                  topology_.proxy_ns(),
                  [&] {
                    listener = bound_udp_socket({Topology::proxy_client_side(Family::v4), 4433});
                    session = bound_udp_socket({Topology::proxy_backend_side(Family::v4), 0});
                    client_ifindex =
                        static_cast<int>(::if_nametoindex(topology_.proxy_client_if().c_str()));
                    backend_ifindex =
                        static_cast<int>(::if_nametoindex(topology_.proxy_backend_if().c_str()));
                  }),
              "");
    ASSERT_EQ(
        integration::run_in(topology_.backend_ns(),
                            [&] {
                              backend = bound_udp_socket({Topology::backend(Family::v4), 8443});
                            }),
        "");
    ASSERT_TRUE(client.valid() && listener.valid() && session.valid() && backend.valid());
    bpf::FastPathSession spec;
    spec.client_side = {local_endpoint(client.get()), local_endpoint(listener.get())};
    spec.backend_side = {local_endpoint(session.get()), local_endpoint(backend.get())};
    spec.client_ifindex = client_ifindex;
    spec.backend_ifindex = backend_ifindex;
    auto handle = path.add_session(spec);
    ASSERT_TRUE(handle.ok()) << handle.error().message;
    const std::string bytes = pattern(1200, 1);
    ASSERT_TRUE(send_to(client.get(), spec.client_side.destination, bytes));
    auto got = receive(backend.get(), 2000ms);
    ASSERT_TRUE(got.has_value()) << "not forwarded";
    EXPECT_EQ(got->from.to_string(), spec.backend_side.source.to_string());
    EXPECT_TRUE(got->bytes == bytes);
    EXPECT_TRUE(path.remove_session(*handle).ok());
  }

  Topology topology_;
};

TEST_F(QuicTcAttachTest, AutomaticPicksTcxWhereTheKernelHasIt) {
  auto path = create(bpf::TcAttachMode::automatic);
  ASSERT_NE(path, nullptr);
  const auto attachments = path->attachments();
  ASSERT_EQ(attachments.size(), 2u);
  for (const std::string& description : attachments) {
    std::printf("%s\n", description.c_str());
    if (kernel_has_tcx()) {
      EXPECT_NE(description.find("(tcx)"), std::string::npos) << description;
    }
  }
  if (kernel_has_tcx()) {
    EXPECT_EQ(qdiscs(topology_.proxy_ns(), topology_.proxy_backend_if()).find("clsact"),
              std::string::npos);
  }
  expect_session_forwards(*path);
}

TEST_F(QuicTcAttachTest, ClsactQdiscCreatedIsRemovedAgain) {
  ASSERT_EQ(qdiscs(topology_.proxy_ns(), topology_.proxy_backend_if()).find("clsact"),
            std::string::npos);
  auto path = create(bpf::TcAttachMode::clsact);
  ASSERT_NE(path, nullptr);
  for (const std::string& description : path->attachments()) {
    EXPECT_NE(description.find("(clsact, qdisc created)"), std::string::npos) << description;
  }
  EXPECT_NE(qdiscs(topology_.proxy_ns(), topology_.proxy_backend_if()).find("clsact"),
            std::string::npos);
  expect_session_forwards(*path);
  path.reset();  // from this thread, outside the proxy namespace
  EXPECT_EQ(qdiscs(topology_.proxy_ns(), topology_.proxy_backend_if()).find("clsact"),
            std::string::npos);
}

TEST_F(QuicTcAttachTest, ClsactQdiscThatWasThereStays) {
  for (const std::string& device : {topology_.proxy_client_if(), topology_.proxy_backend_if()}) {
    ASSERT_EQ(integration::netns_exec(topology_.proxy_ns(),
                                      {"tc", "qdisc", "add", "dev", device, "clsact"}),
              "");
  }
  auto path = create(bpf::TcAttachMode::clsact);
  ASSERT_NE(path, nullptr);
  for (const std::string& description : path->attachments()) {
    EXPECT_EQ(description.find("qdisc created"), std::string::npos) << description;
  }
  expect_session_forwards(*path);
  path.reset();
  EXPECT_NE(qdiscs(topology_.proxy_ns(), topology_.proxy_backend_if()).find("clsact"),
            std::string::npos);
}

TEST_F(QuicTcAttachTest, MissingDeviceIsNamed) {
  std::string error;
  ASSERT_EQ(integration::run_in(topology_.proxy_ns(),
                                [&] {
                                  bpf::QuicFastPathOptions options;
                                  options.interfaces = {topology_.proxy_client_if(), "nosuchdev0"};
                                  auto created = bpf::QuicFastPath::create(options);
                                  if (!created.ok()) error = created.error().message;
                                }),
            "");
  EXPECT_NE(error.find("nosuchdev0"), std::string::npos) << error;
  EXPECT_NE(error.find("no such device"), std::string::npos) << error;
}

}  // namespace
}  // namespace sniproxy::quic_tc_test
