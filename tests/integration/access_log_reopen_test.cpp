// SIGUSR1 reopens the access log file (logrotate's postrotate): lines after
// it land in a new file at the configured path, the moved file keeps the old
// ones, and a path that cannot be opened keeps the old file in use.
#include <signal.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

#include "support/backend_behaviours.hpp"
#include "support/proxy_fixture.hpp"

namespace sniproxy::integration {
namespace {

class AccessLogReopenTest : public ProxyTest {
 protected:
  // A connection through the proxy, forwarding (its hello came back) and
  // still open.
  UniqueFd open_connection(std::uint16_t port, std::uint16_t& client_port) {
    UniqueFd c = connect_echoed(port, "reopen.test");
    if (c) client_port = local_endpoint(c.get()).port;
    return c;
  }
  static void finish(UniqueFd& c) {
    shutdown_write(c.get());
    EXPECT_EQ(read_until_closed(c.get(), Deadline::in(milliseconds(5000))).status, IoStatus::eof);
    c.reset();
  }
  std::uint16_t exchange(std::uint16_t port) {
    std::uint16_t client_port = 0;
    UniqueFd c = open_connection(port, client_port);
    if (c) finish(c);
    return client_port;
  }
  static bool mentions(const std::filesystem::path& file, std::uint16_t client_port) {
    return read_file(file).find("client=127.0.0.1:" + std::to_string(client_port) + " ") !=
           std::string::npos;
  }
  ConfigSpec spec_with_echo(const Backend& backend) {
    ConfigSpec spec = base_config();
    spec.table("default").push_back({.match = "reopen.test", .backend = backend.address()});
    return spec;
  }
  [[nodiscard]] std::filesystem::path moved_path() const { return dir_.file("access.log.1"); }
};

TEST_P(AccessLogReopenTest, NewLinesGoToTheNewFileAfterARename) {
  Backend backend(echo_handler());
  ConfigSpec spec = spec_with_echo(backend);
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  const std::uint16_t port = spec.listeners[0].port;

  const std::uint16_t before = exchange(port);
  ASSERT_TRUE(access_entry(before)) << "no line before the rotation";
  // Open across a reload and the rotation: it ends after both, so its line
  // must follow the reopen although its connection predates the reload.
  std::uint16_t held_port = 0;
  UniqueFd held = open_connection(port, held_port);
  ASSERT_TRUE(held);
  proxy_->signal(SIGHUP);
  ASSERT_TRUE(proxy_->wait_for_log("event=reload result=ok", Deadline::in(milliseconds(5000))));

  std::filesystem::rename(access_log_path(), moved_path());
  proxy_->signal(SIGUSR1);
  ASSERT_TRUE(proxy_->wait_for_log("event=access_log_reopened path=" + access_log_path().string(),
                                   Deadline::in(milliseconds(5000))))
      << proxy_->log();
  EXPECT_TRUE(std::filesystem::exists(access_log_path()));

  // Enough connections that both workers write some.
  std::vector<std::uint16_t> after;
  for (int i = 0; i < 8; ++i) after.push_back(exchange(port));
  finish(held);
  for (auto p : after) {
    EXPECT_TRUE(access_entry(p)) << "client port " << p << " is not in the new file";
    EXPECT_FALSE(mentions(moved_path(), p)) << "client port " << p << " went to the moved file";
  }
  EXPECT_TRUE(access_entry(held_port)) << "the connection from before the reload wrote elsewhere";
  EXPECT_FALSE(mentions(moved_path(), held_port));
  EXPECT_TRUE(mentions(moved_path(), before));
  EXPECT_FALSE(mentions(access_log_path(), before));
  EXPECT_EQ(count_occurrences(proxy_->log(), "event=access_log_reopened"), 1);
}

TEST_P(AccessLogReopenTest, APathThatCannotBeOpenedKeepsTheOldFile) {
  Backend backend(echo_handler());
  ConfigSpec spec = spec_with_echo(backend);
  ASSERT_NO_FATAL_FAILURE(start_proxy(spec));
  const std::uint16_t port = spec.listeners[0].port;

  std::filesystem::rename(access_log_path(), moved_path());
  // A directory in the file's place: even root cannot open it for writing.
  ASSERT_EQ(::mkdir(access_log_path().c_str(), 0755), 0);
  proxy_->signal(SIGUSR1);
  ASSERT_TRUE(proxy_->wait_for_log("event=access_log_reopen result=failed",
                                   Deadline::in(milliseconds(5000))))
      << proxy_->log();
  const std::string log = proxy_->log();
  EXPECT_NE(log.find("path=" + access_log_path().string()), std::string::npos) << log;
  EXPECT_NE(log.find("errno=" + std::to_string(EISDIR)), std::string::npos) << log;
  EXPECT_EQ(log.find("event=access_log_reopened"), std::string::npos) << log;

  const std::uint16_t after = exchange(port);
  EXPECT_TRUE(wait_access_entry(moved_path(), after, Deadline::in(milliseconds(5000))))
      << "the line after a failed reopen is not in the old file";
  EXPECT_TRUE(proxy_->running());
}

INSTANTIATE_TEST_SUITE_P(Copy, AccessLogReopenTest, ::testing::Values(std::string("copy")),
                         mode_name);

// packaging/logrotate/sniproxy: logrotate accepts it and it signals USR1.
TEST(LogrotateFile, ParsesAndSendsUsr1) {
  const std::filesystem::path file =
      std::filesystem::path(SNIPROXY_SOURCE_DIR) / "packaging/logrotate/sniproxy";
  const std::string text = read_file(file);
  ASSERT_FALSE(text.empty()) << file;
  EXPECT_NE(text.find("USR1"), std::string::npos) << text;
  for (const char* directive : {"missingok", "notifempty", "compress", "delaycompress"})
    EXPECT_NE(text.find(directive), std::string::npos) << "no " << directive;
  if (std::system("command -v logrotate >/dev/null") != 0) GTEST_SKIP() << "logrotate missing";
  TempDir dir;
  // -d: parse and say what it would do, touching nothing; the state file is
  // ours so the host's rotation state stays as it was.
  auto r = run_command(
      "/bin/sh",
      {"-c", "logrotate -d -s '" + dir.file("state").string() + "' '" + file.string() + "'"},
      dir.path());
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sniproxy::integration
