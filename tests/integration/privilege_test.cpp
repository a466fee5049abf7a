// [process]: started as root, the proxy binds and loads as root, then runs
// as the configured user on every thread with no capabilities left, and
// still proxies, logs and reloads; started as that user holding ambient
// capabilities (as the packaged unit does) it ends with the same sets;
// without a user it refuses to run as root unless allow_root says so; an
// unknown user is a clear start-up error.
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/backend_behaviours.hpp"
#include "support/credentials.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

// What the proxy keeps for sockmap: nothing, except before Linux 6.5 with
// kernel.unprivileged_bpf_disabled, where every bpf(2) command (the per
// connection map updates too) needs CAP_BPF (bit 39).
std::string sockmap_caps_hex() {
  utsname name{};
  unsigned major = 0;
  unsigned minor = 0;
  ::uname(&name);
  std::sscanf(name.release, "%u.%u", &major, &minor);
  const bool gated = (major < 6 || (major == 6 && minor < 5)) &&
                     read_file("/proc/sys/kernel/unprivileged_bpf_disabled").rfind('0', 0) != 0;
  return gated ? "0000008000000000" : "0000000000000000";
}

class PrivilegeTest : public ProxyTest {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: the proxy must start as root to drop it";
    // The account reopens the config and the access log on SIGHUP: it must
    // be able to reach them.
    std::filesystem::permissions(
        dir_.path(), std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                         std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                         std::filesystem::perms::others_exec);
  }

  // Hello and payload through the proxy to an echo backend and back,
  // byte-exact; returns the client's port (the access-log key).
  std::uint16_t echo_through(std::uint16_t port) {
    UniqueFd c = connect_to(port);
    if (!c) return 0;
    const std::uint16_t client_port = local_endpoint(c.get()).port;
    auto sent = hello_for("echo.test");
    const std::string payload(100'000, 'p');
    sent.insert(sent.end(), payload.begin(), payload.end());
    EXPECT_EQ(send_all(c.get(), sent, Deadline::in(milliseconds(3000))), IoStatus::ok);
    std::vector<std::uint8_t> got;
    EXPECT_EQ(read_exact(c.get(), sent.size(), got, Deadline::in(milliseconds(5000))),
              IoStatus::ok);
    EXPECT_TRUE(got == sent) << "echoed bytes differ";
    return client_port;
  }

  ConfigSpec echo_config(const Backend& backend) {
    ConfigSpec spec = base_config();
    spec.table("default").push_back({.match = "echo.test", .backend = backend.address()});
    return spec;
  }

  CommandResult run_proxy_to_exit(const ConfigSpec& spec) {
    write_file(config_path(), spec.to_toml());
    return run_command(sniproxy_binary(), {"--config", config_path().string()}, dir_.path());
  }

  // Runs sniproxy as nobody from the start (setpriv from util-linux); ""
  // when setpriv is missing.
  std::string as_nobody_binary() {
    if (::access("/usr/bin/setpriv", X_OK) != 0) return "";
    return launcher_script(dir_.file("as-nobody.sh"),
                           "/usr/bin/setpriv --reuid=nobody --regid=nogroup --clear-groups",
                           sniproxy_binary());
  }

  // Runs sniproxy as nobody with the packaged unit's ambient capabilities;
  // "" without capsh.
  std::string with_ambient_caps_binary() {
    const std::string launcher = ambient_caps_launcher();
    if (launcher.empty()) return "";
    return launcher_script(dir_.file("ambient-caps.sh"), launcher, sniproxy_binary());
  }

  // Starts `binary` on `spec` as nobody:nogroup; nobody writes the access
  // log, so it is created for them.
  void start_as_nobody(const std::string& binary, ConfigSpec& spec) {
    spec.process = "user = \"nobody\"\ngroup = \"nogroup\"\n";
    write_file(config_path(), spec.to_toml());
    write_file(access_log_path(), "");
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    ASSERT_EQ(::chown(access_log_path().c_str(), nobody->pw_uid, ::getgrnam("nogroup")->gr_gid), 0);
    proxy_ = std::make_unique<ProxyProcess>(binary, config_path(), dir_.path());
    ASSERT_EQ(proxy_->start(spec.ports()), "");
  }

  // The privileges line for nobody:nogroup keeping `caps`.
  static std::string nobody_line(const std::string& caps) {
    return fmt::format("event=privileges user=nobody uid={} group=nogroup gid={} kept_caps={}\n",
                       ::getpwnam("nobody")->pw_uid, ::getgrnam("nogroup")->gr_gid, caps);
  }

  // Both start paths on `spec`: root switching to nobody, and nobody
  // holding the unit's ambient capabilities. Each must end with `caps` on
  // every task (`names` in the log) and still proxy.
  void expect_both_start_paths(ConfigSpec spec, const std::string& caps, const std::string& names) {
    const unsigned uid = ::getpwnam("nobody")->pw_uid;
    const unsigned gid = ::getgrnam("nogroup")->gr_gid;
    for (const bool ambient : {false, true}) {
      SCOPED_TRACE(ambient ? "started as nobody with ambient capabilities" : "started as root");
      const std::string binary = ambient ? with_ambient_caps_binary() : sniproxy_binary();
      if (binary.empty()) GTEST_SKIP() << "needs /usr/sbin/capsh (libcap2-bin)";
      ASSERT_NO_FATAL_FAILURE(start_as_nobody(binary, spec));
      ASSERT_TRUE(proxy_->wait_for_log("event=privileges", Deadline::in(milliseconds(5000))));
      EXPECT_NE(proxy_->log().find(nobody_line(names)), std::string::npos) << proxy_->log();
      ASSERT_TRUE(proxy_->wait_for_log("event=listening", Deadline::in(milliseconds(5000)), 2));
      // Traffic first: the workers' io_uring workers exist by then too.
      const std::uint16_t client_port = echo_through(spec.listeners[0].port);
      EXPECT_TRUE(access_entry(client_port).has_value());
      expect_every_task(proxy_->pid(), uid, gid, caps, 3);
      // On both paths sockmap must load and forward with what was kept (BCC
      // would turn the program's kernel reads into bpf_probe_read without
      // CAP_SYS_ADMIN: bpf_c/kernel_read.h).
      EXPECT_EQ(proxy_->log().find("sockmap_unavailable"), std::string::npos) << proxy_->log();
      proxy_->signal(SIGTERM);
      EXPECT_EQ(proxy_->wait_exit(milliseconds(10'000)), std::optional<int>(0)) << proxy_->log();
      proxy_.reset();
    }
  }
};

TEST_P(PrivilegeTest, RunsAsTheUserOnEveryThreadWithNoCapabilitiesAndStillProxies) {
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr) << "this test needs the user nobody";
  const unsigned uid = nobody->pw_uid;
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.process = "user = \"nobody\"\ngroup = \"nogroup\"\n";
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  ASSERT_TRUE(proxy_->wait_for_log("event=privileges", Deadline::in(milliseconds(5000))));
  const std::string line = fmt::format(
      "event=privileges user=nobody uid={} group=nogroup gid={} "
      "kept_caps=none",
      uid, ::getgrnam("nogroup")->gr_gid);
  EXPECT_NE(proxy_->log().find(line), std::string::npos) << proxy_->log();

  // The ports accept before the worker threads exist (they are bound
  // first); each worker logs event=listening once it runs.
  ASSERT_TRUE(proxy_->wait_for_log("event=listening", Deadline::in(milliseconds(5000)), 2));
  expect_every_task(proxy_->pid(), uid, ::getgrnam("nogroup")->gr_gid, "0000000000000000", 3);

  // The access log was opened as root; it keeps being written, and a reload
  // (which reopens it as nobody) keeps working because start-up handed the
  // file to nobody.
  const std::uint16_t first = echo_through(spec.listeners[0].port);
  EXPECT_TRUE(access_entry(first).has_value());
  struct stat st {};
  ASSERT_EQ(::stat(access_log_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, uid);
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=ok", Deadline::in(milliseconds(5000))))
      << proxy_->log();
  const std::uint16_t second = echo_through(spec.listeners[0].port);
  EXPECT_TRUE(access_entry(second).has_value());
}

// Under a master, the worker process drops to the user with no capability
// on every thread, while the master keeps what starting the next
// generation needs (it handles no traffic). The worker also survives its
// credential change following the master (the parent-death signal is set
// again after it).
TEST_P(PrivilegeTest, AMastersWorkerRunsAsTheUserWithNoCapabilities) {
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr) << "this test needs the user nobody";
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.process = "user = \"nobody\"\ngroup = \"nogroup\"\nmaster = true\n";
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  ASSERT_TRUE(proxy_->wait_for_log("event=generation_ready generation=1",
                                   Deadline::in(milliseconds(30'000))))
      << proxy_->log();
  std::ifstream children(fmt::format("/proc/{}/task/{}/children", proxy_->pid(), proxy_->pid()));
  pid_t worker = 0;
  ASSERT_TRUE(children >> worker) << "no worker process";
  const std::uint16_t client_port = echo_through(spec.listeners[0].port);
  EXPECT_TRUE(access_entry(client_port).has_value());
  expect_every_task(worker, nobody->pw_uid, ::getgrnam("nogroup")->gr_gid, "0000000000000000", 3);
  for (const auto& [tid, creds] : task_credentials(proxy_->pid()))
    EXPECT_EQ(creds.uid, all_ids(0)) << "master task " << tid;
  // An upgrade starts the next worker from the master's privileges.
  proxy_->signal(SIGUSR2);
  ASSERT_TRUE(proxy_->wait_for_log("event=generation_ready generation=2",
                                   Deadline::in(milliseconds(30'000))))
      << proxy_->log();
  EXPECT_TRUE(access_entry(echo_through(spec.listeners[0].port)).has_value());
}

TEST_P(PrivilegeTest, RootWithoutUserOrAllowRootIsRefusedAndBindsNothing) {
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.process = "";
  const CommandResult r = run_proxy_to_exit(spec);
  ASSERT_TRUE(r.exit_code.has_value()) << "still running: it should have refused";
  EXPECT_EQ(*r.exit_code, 1);
  EXPECT_NE(r.err.find("refusing to run as root without [process] user (set user = "
                       "\\\"sniproxy\\\", or allow_root = true to run as root anyway)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(count_occurrences(r.err, "\n"), 1) << "one line: " << r.err;
  const auto c = connect_tcp(loopback(spec.listeners[0].port), Deadline::in(milliseconds(1000)));
  EXPECT_FALSE(c.fd.valid()) << "a listener was left bound";
  EXPECT_EQ(c.error, ECONNREFUSED);
}

TEST_P(PrivilegeTest, AllowRootRunsAsRootAndProxiesAndAReloadCannotSwitchUser) {
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  ASSERT_EQ(spec.process, "allow_root = true\n");
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  // The ports accept before the privileges line is written (they are bound
  // first): wait for the line, do not expect it already read.
  EXPECT_TRUE(
      proxy_->wait_for_log("event=privileges user=root uid=0", Deadline::in(milliseconds(5000))))
      << proxy_->log();
  for (const auto& [tid, creds] : task_credentials(proxy_->pid()))
    EXPECT_EQ(creds.uid, all_ids(0)) << "thread " << tid;
  const std::uint16_t client_port = echo_through(spec.listeners[0].port);
  EXPECT_TRUE(access_entry(client_port).has_value());

  spec.process = "user = \"nobody\"\n";
  rewrite_config(spec.to_toml());
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=failed", Deadline::in(milliseconds(5000))));
  EXPECT_NE(
      proxy_->log().find("[process] user, group, allow_root or master changed; restart to apply"),
      std::string::npos)
      << proxy_->log();
  echo_through(spec.listeners[0].port);
}

TEST_P(PrivilegeTest, AnUnknownUserOrGroupIsAClearStartUpError) {
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.process = "user = \"sniproxy-no-such-user\"\n";
  CommandResult r = run_proxy_to_exit(spec);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 1);
  EXPECT_NE(r.err.find("[process] user 'sniproxy-no-such-user' does not exist on this system: "
                       "create it (adduser --system"),
            std::string::npos)
      << r.err;

  spec.process = "user = \"nobody\"\ngroup = \"sniproxy-no-such-group\"\n";
  r = run_proxy_to_exit(spec);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 1);
  EXPECT_NE(r.err.find("[process] group 'sniproxy-no-such-group' does not exist on this system"),
            std::string::npos)
      << r.err;
}

TEST_P(PrivilegeTest, NotRootSwitchingToAnotherUserNamesTheMissingCapabilities) {
  const std::string binary = as_nobody_binary();
  if (binary.empty()) GTEST_SKIP() << "needs /usr/bin/setpriv";
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.process = "user = \"daemon\"\n";
  write_file(config_path(), spec.to_toml());
  const CommandResult r = run_command(binary, {"--config", config_path().string()}, dir_.path());
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot switch to [process] user daemon"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("without CAP_SETUID and CAP_SETGID"), std::string::npos) << r.err;
}

// The packaged unit's case: started as the user with ambient capabilities,
// there is nothing to switch, but every thread still ends with none (copy
// and splice need none) and the line says so.
TEST_P(PrivilegeTest, AmbientCapabilitiesOfTheUnitAreDroppedOnEveryThread) {
  Backend backend(echo_handler());
  expect_both_start_paths(echo_config(backend), "0000000000000000", "none");
}

// Sockmap: the map and its programs are loaded before the drop; the per
// connection map updates need no capability from Linux 6.5 on.
TEST_P(PrivilegeTest, SockmapKeepsOnlyWhatItsMapUpdatesNeedOnEveryThread) {
  if (GetParam() != "copy") GTEST_SKIP() << "one mode is enough: the test sets sockmap";
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.forwarding_mode = "sockmap";
  const std::string caps = sockmap_caps_hex();
  expect_both_start_paths(spec, caps, caps == "0000000000000000" ? "none" : "cap_bpf");
}

TEST_P(PrivilegeTest, NotRootAndAlreadyTheUserOnlyReducesItsCapabilities) {
  const std::string binary = as_nobody_binary();
  if (binary.empty()) GTEST_SKIP() << "needs /usr/bin/setpriv";
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.process = "user = \"nobody\"\ngroup = \"nogroup\"\n";
  write_file(config_path(), spec.to_toml());
  // nobody cannot create files in the test's directory: the log is theirs.
  write_file(access_log_path(), "");
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ASSERT_EQ(::chown(access_log_path().c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  proxy_ = std::make_unique<ProxyProcess>(binary, config_path(), dir_.path());
  ASSERT_EQ(proxy_->start(spec.ports()), "");
  ASSERT_TRUE(proxy_->wait_for_log("event=privileges", Deadline::in(milliseconds(5000))));
  EXPECT_NE(proxy_->log().find(nobody_line("none")), std::string::npos) << proxy_->log();
  EXPECT_NE(proxy_->log().find("event=dns_mirror result=off reason="), std::string::npos)
      << "without CAP_BPF the mirror is off, said once: " << proxy_->log();
  EXPECT_EQ(proxy_->log().find("libbpf:"), std::string::npos) << proxy_->log();
  const std::uint16_t client_port = echo_through(spec.listeners[0].port);
  EXPECT_TRUE(access_entry(client_port).has_value());
}

// source_address = "client" sets IP_TRANSPARENT on every upstream socket:
// started as root, every thread keeps CAP_NET_RAW (bit 13) and nothing
// else; started with the unit's ambient set, which holds CAP_NET_ADMIN but
// not CAP_NET_RAW, it keeps CAP_NET_ADMIN (bit 12). Without "client" it
// keeps neither (the tests above).
TEST_P(PrivilegeTest, ClientSourceKeepsCapNetRawOnEveryThread) {
  const unsigned uid = ::getpwnam("nobody")->pw_uid;
  const unsigned gid = ::getgrnam("nogroup")->gr_gid;
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  spec.listeners[0].lines = "source_address = \"client\"\n";
  for (const bool ambient : {false, true}) {
    SCOPED_TRACE(ambient ? "started as nobody with ambient capabilities" : "started as root");
    const std::string binary = ambient ? with_ambient_caps_binary() : sniproxy_binary();
    if (binary.empty()) GTEST_SKIP() << "needs /usr/sbin/capsh (libcap2-bin)";
    if (ambient && ambient_caps_launcher().find("cap_net_admin") == std::string::npos)
      GTEST_SKIP() << "this test process holds no CAP_NET_ADMIN to hand on";
    ASSERT_NO_FATAL_FAILURE(start_as_nobody(binary, spec));
    ASSERT_TRUE(proxy_->wait_for_log("event=privileges", Deadline::in(milliseconds(5000))));
    EXPECT_NE(proxy_->log().find(nobody_line(ambient ? "cap_net_admin" : "cap_net_raw")),
              std::string::npos)
        << proxy_->log();
    ASSERT_TRUE(proxy_->wait_for_log("event=listening", Deadline::in(milliseconds(5000)), 2));
    // Through the transparent socket (bound to 127.0.0.1, the client's).
    const std::uint16_t client_port = echo_through(spec.listeners[0].port);
    EXPECT_TRUE(access_entry(client_port).has_value());
    expect_every_task(proxy_->pid(), uid, gid, ambient ? "0000000000001000" : "0000000000002000",
                      3);
    proxy_->signal(SIGTERM);
    EXPECT_EQ(proxy_->wait_exit(milliseconds(10'000)), std::optional<int>(0)) << proxy_->log();
    proxy_.reset();
  }
}

// Without "client" at start-up nothing is kept for it, so a reload that
// turns it on is refused with the reason, and the old config keeps serving.
TEST_P(PrivilegeTest, AReloadTurningOnClientSourceWithoutTheCapabilityIsRefused) {
  Backend backend(echo_handler());
  ConfigSpec spec = echo_config(backend);
  ASSERT_NO_FATAL_FAILURE(start_as_nobody(sniproxy_binary(), spec));
  ASSERT_TRUE(proxy_->wait_for_log("event=listening", Deadline::in(milliseconds(5000)), 2));
  EXPECT_NE(proxy_->log().find(nobody_line("none")), std::string::npos) << proxy_->log();
  spec.listeners[0].lines = "source_address = \"client\"\n";
  rewrite_config(spec.to_toml());
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=failed", Deadline::in(milliseconds(5000))))
      << proxy_->log();
  EXPECT_NE(proxy_->log().find("source_address = \\\"client\\\" needs CAP_NET_RAW (or "
                               "CAP_NET_ADMIN)"),
            std::string::npos)
      << proxy_->log();
  EXPECT_NE(proxy_->log().find("old config stays in force"), std::string::npos) << proxy_->log();
  const std::uint16_t client_port = echo_through(spec.listeners[0].port);
  EXPECT_TRUE(access_entry(client_port).has_value());
}

INSTANTIATE_TEST_SUITE_P(Modes, PrivilegeTest, ::testing::Values("copy", "splice"), mode_name);

}  // namespace
}  // namespace sniproxy::integration
