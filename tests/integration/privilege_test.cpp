// [process]: started as root, the proxy binds and loads as root, then runs
// as the configured user on every thread with no capabilities left, and
// still proxies, logs and reloads; without a user it refuses to run as root
// unless allow_root says so; an unknown user is a clear start-up error.
#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

// The credential and capability lines of /proc/PID/task/TID/status.
struct ThreadCredentials {
  std::string uid, gid, cap_eff, cap_prm;
};

std::map<std::string, ThreadCredentials> thread_credentials(pid_t pid) {
  std::map<std::string, ThreadCredentials> out;
  const auto tasks = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream status(task.path() / "status");
    ThreadCredentials creds;
    for (std::string line; std::getline(status, line);) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      const std::string key = line.substr(0, colon);
      if (key == "Uid") creds.uid = value;
      if (key == "Gid") creds.gid = value;
      if (key == "CapEff") creds.cap_eff = value;
      if (key == "CapPrm") creds.cap_prm = value;
    }
    // A task can exit between the listing and the read (an io_uring io-wq
    // worker leaving after an idle spell, say): it has no credentials to check.
    if (creds.uid.empty()) continue;
    out[task.path().filename().string()] = creds;
  }
  return out;
}

// "N\tN\tN\tN": real, effective, saved and filesystem ids all N.
std::string all_ids(unsigned id) {
  const std::string n = std::to_string(id);
  return n + "\t" + n + "\t" + n + "\t" + n;
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

  // A script that runs sniproxy as nobody from the start (setpriv from
  // util-linux); "" when setpriv is missing.
  std::string as_nobody_binary() {
    if (::access("/usr/bin/setpriv", X_OK) != 0) return "";
    const auto script = dir_.file("as-nobody.sh");
    write_file(script,
               "#!/bin/sh\nexec /usr/bin/setpriv --reuid=nobody --regid=nogroup "
               "--clear-groups " +
                   sniproxy_binary() + " \"$@\"\n");
    std::filesystem::permissions(script, std::filesystem::perms::owner_all |
                                             std::filesystem::perms::others_read |
                                             std::filesystem::perms::others_exec);
    return script.string();
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
  const auto threads = thread_credentials(proxy_->pid());
  EXPECT_GE(threads.size(), 3u) << "main thread and two workers";
  for (const auto& [tid, creds] : threads) {
    EXPECT_EQ(creds.uid, all_ids(uid)) << "thread " << tid;
    EXPECT_EQ(creds.gid, all_ids(::getgrnam("nogroup")->gr_gid)) << "thread " << tid;
    EXPECT_EQ(creds.cap_eff, "0000000000000000") << "thread " << tid;
    EXPECT_EQ(creds.cap_prm, "0000000000000000") << "thread " << tid;
  }

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
  for (const auto& [tid, creds] : thread_credentials(proxy_->pid()))
    EXPECT_EQ(creds.uid, all_ids(0)) << "thread " << tid;
  const std::uint16_t client_port = echo_through(spec.listeners[0].port);
  EXPECT_TRUE(access_entry(client_port).has_value());

  spec.process = "user = \"nobody\"\n";
  rewrite_config(spec.to_toml());
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=failed", Deadline::in(milliseconds(5000))));
  EXPECT_NE(proxy_->log().find("[process] user, group or allow_root changed; restart to apply"),
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

TEST_P(PrivilegeTest, NotRootAndAlreadyTheUserHasNothingToDo) {
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
  EXPECT_EQ(proxy_->log().find("event=privileges"), std::string::npos) << proxy_->log();
  EXPECT_NE(proxy_->log().find("event=dns_mirror result=off reason="), std::string::npos)
      << "without CAP_BPF the mirror is off, said once: " << proxy_->log();
  EXPECT_EQ(proxy_->log().find("libbpf:"), std::string::npos) << proxy_->log();
  const std::uint16_t client_port = echo_through(spec.listeners[0].port);
  EXPECT_TRUE(access_entry(client_port).has_value());
}

INSTANTIATE_TEST_SUITE_P(Modes, PrivilegeTest, ::testing::Values("copy", "splice"), mode_name);

}  // namespace
}  // namespace sniproxy::integration
