// [xdp]: every key, the defaults, prefix files read through an in-memory
// FileReader (errors at the prefix file's own LINE:COL), and which changes a
// reload may apply.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/loader.hpp"
#include "config/prefix.hpp"
#include "config/xdp_section.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using testing::kMinimal;

// Files by path; any other path is "No such file or directory".
class FakeFiles {
 public:
  using Map = std::map<std::string, std::string>;
  explicit FakeFiles(Map files) : files_(std::move(files)) {}
  FileReader reader() {
    return [this](const std::string& path) -> Result<std::string> {
      read_.push_back(path);
      auto it = files_.find(path);
      if (it == files_.end()) return make_error("No such file or directory");
      return it->second;
    };
  }
  const std::vector<std::string>& read() const { return read_; }

 private:
  std::map<std::string, std::string> files_;
  std::vector<std::string> read_;
};

LoadResult load_with(std::string_view xdp, FakeFiles& files,
                     std::string_view config_path = "/etc/sniproxy/proxy.toml") {
  return load_string(std::string(xdp) + std::string(kMinimal), config_path, files.reader());
}

std::vector<std::string> errors(const LoadResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.errors) out.push_back(d.to_string());
  return out;
}

std::vector<std::string> strings(const std::vector<Prefix>& prefixes) {
  std::vector<std::string> out;
  for (const auto& p : prefixes) out.push_back(to_string(p));
  return out;
}

TEST(XdpConfigTest, AbsentSectionMeansNoFilter) {
  EXPECT_FALSE(testing::must_load(kMinimal).xdp.has_value());
}

TEST(XdpConfigTest, DefaultsWithOnlyInterfaces) {
  FakeFiles files(FakeFiles::Map{});
  auto r = load_with("[xdp]\ninterfaces = [\"eth0\"]\n", files);
  ASSERT_TRUE(r.config) << errors(r)[0];
  ASSERT_TRUE(r.config->xdp.has_value());
  const Xdp& x = *r.config->xdp;
  EXPECT_THAT(x.interfaces, ElementsAre("eth0"));
  EXPECT_EQ(x.mode, XdpMode::automatic);
  EXPECT_TRUE(x.allow.empty());
  EXPECT_TRUE(x.deny.empty());
  EXPECT_EQ(x.allow_file, "");
  EXPECT_EQ(x.deny_file, "");
  EXPECT_EQ(x.syn_rate, 0u);
  EXPECT_EQ(x.syn_burst, 0u);
  EXPECT_EQ(x.log_interval, 10s);
  EXPECT_TRUE(files.read().empty());
}

TEST(XdpConfigTest, EveryKeyInlineAndFromFiles) {
  FakeFiles files(FakeFiles::Map{
      {"/etc/sniproxy/allow.txt", "# offices\n192.0.2.0/24\n2001:db8::/32 # v6\n"},
      {"/srv/deny.list", "203.0.113.9\n"},
  });
  auto r = load_with(R"([xdp]
interfaces = ["eth0", "eth1"]
mode = "native"
allow = ["198.51.100.0/24", "192.0.2.0/24"]
allow_file = "allow.txt"
deny = ["198.51.100.66", "2001:db8::bad/128"]
deny_file = "/srv/deny.list"
syn_rate = 100
syn_burst = 400
log_interval = "30s"
)",
                     files);
  ASSERT_TRUE(r.config) << errors(r)[0];
  const Xdp& x = *r.config->xdp;
  EXPECT_THAT(x.interfaces, ElementsAre("eth0", "eth1"));
  EXPECT_EQ(x.mode, XdpMode::native);
  // Sorted (IPv4 before IPv6), the duplicate 192.0.2.0/24 once.
  EXPECT_THAT(strings(x.allow), ElementsAre("192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"));
  EXPECT_THAT(strings(x.deny),
              ElementsAre("198.51.100.66/32", "203.0.113.9/32", "2001:db8::bad/128"));
  EXPECT_EQ(x.allow_file, "/etc/sniproxy/allow.txt");
  EXPECT_EQ(x.deny_file, "/srv/deny.list");
  EXPECT_EQ(x.syn_rate, 100u);
  EXPECT_EQ(x.syn_burst, 400u);
  EXPECT_EQ(x.log_interval, 30s);
  EXPECT_THAT(files.read(), ElementsAre("/etc/sniproxy/allow.txt", "/srv/deny.list"));
}

TEST(XdpConfigTest, ModesAndBurstDefaultingToTheRate) {
  FakeFiles files(FakeFiles::Map{});
  auto r = load_with("[xdp]\ninterfaces = [\"lo\"]\nmode = \"generic\"\nsyn_rate = 50\n", files);
  ASSERT_TRUE(r.config) << errors(r)[0];
  EXPECT_EQ(r.config->xdp->mode, XdpMode::generic);
  EXPECT_EQ(r.config->xdp->syn_burst, 50u);
  auto a =
      load_with("[xdp]\ninterfaces = [\"lo\"]\nmode = \"auto\"\nlog_interval = \"0s\"\n", files);
  ASSERT_TRUE(a.config) << errors(a)[0];
  EXPECT_EQ(a.config->xdp->mode, XdpMode::automatic);
  EXPECT_EQ(a.config->xdp->log_interval, 0ms);
}

TEST(XdpConfigTest, RelativePrefixFilesAreFoundBesideTheConfig) {
  FakeFiles files(
      FakeFiles::Map{{"conf.d/allow.txt", "192.0.2.0/24\n"}, {"deny.txt", "192.0.2.9\n"}});
  auto r = load_with("[xdp]\ninterfaces = [\"eth0\"]\nallow_file = \"allow.txt\"\n", files,
                     "conf.d/proxy.toml");
  ASSERT_TRUE(r.config) << errors(r)[0];
  EXPECT_EQ(r.config->xdp->allow_file, "conf.d/allow.txt");
  // A config named without a directory finds them in the working directory.
  auto d =
      load_with("[xdp]\ninterfaces = [\"eth0\"]\ndeny_file = \"deny.txt\"\n", files, "proxy.toml");
  ASSERT_TRUE(d.config) << errors(d)[0];
  EXPECT_THAT(strings(d.config->xdp->deny), ElementsAre("192.0.2.9/32"));
}

TEST(XdpConfigTest, PrefixFileErrorsPointIntoThePrefixFileInConfigOrder) {
  FakeFiles files(FakeFiles::Map{{"/etc/sniproxy/deny.txt",
                                  "# bad ones\n192.0.2.0/24\n  10.1.2.3/8\n"
                                  "2001:db8::/129\n"}});
  auto r = load_with(R"([xdp]
interfaces = ["eth0"]
allow = ["192.0.2.1/24"]
deny_file = "deny.txt"
syn_rate = -1
)",
                     files);
  EXPECT_FALSE(r.config.has_value());
  EXPECT_THAT(
      errors(r),
      ElementsAre("/etc/sniproxy/proxy.toml:3:10: invalid prefix '192.0.2.1/24': address bits are "
                  "set after the first 24; did you mean \"192.0.2.0/24\"?",
                  "/etc/sniproxy/deny.txt:3:3: invalid prefix '10.1.2.3/8': address bits are set "
                  "after the first 8; did you mean \"10.0.0.0/8\"?",
                  "/etc/sniproxy/deny.txt:4:1: invalid prefix '2001:db8::/129': the length of an "
                  "IPv6 prefix is 0..128",
                  "/etc/sniproxy/proxy.toml:5:12: 'syn_rate' must be from 0 to 1000000, got -1"));
}

TEST(XdpConfigTest, UnreadablePrefixFileIsAnErrorAtItsKey) {
  FakeFiles files(FakeFiles::Map{});
  auto r = load_with("[xdp]\ninterfaces = [\"eth0\"]\nallow_file = \"missing.txt\"\n", files);
  EXPECT_THAT(errors(r), ElementsAre("/etc/sniproxy/proxy.toml:3:14: cannot read allow_file "
                                     "'/etc/sniproxy/missing.txt': No such file or directory"));
}

TEST(XdpConfigTest, WrongTypesAndValues) {
  FakeFiles files(FakeFiles::Map{});
  auto r = load_with(R"([xdp]
interfaces = "eth0"
mode = "fast"
allow = "10.0.0.0/8"
deny = [10]
allow_file = ""
syn_burst = 5
log_interval = "10ms"
bogus = 1
)",
                     files);
  EXPECT_THAT(
      errors(r),
      ElementsAre(
          "/etc/sniproxy/proxy.toml:2:14: expected an array of strings for 'interfaces', got a "
          "string",
          "/etc/sniproxy/proxy.toml:3:8: invalid value 'fast' for 'mode': expected one of auto, "
          "native, generic",
          "/etc/sniproxy/proxy.toml:4:9: expected an array of strings for 'allow', got a string",
          "/etc/sniproxy/proxy.toml:5:9: expected a string for each entry of 'deny', got an "
          "integer",
          "/etc/sniproxy/proxy.toml:6:14: 'allow_file' must be a file path",
          "/etc/sniproxy/proxy.toml:7:13: 'syn_burst' needs a 'syn_rate' greater than 0",
          "/etc/sniproxy/proxy.toml:8:16: 'log_interval' must be \"0s\" (never) or at least "
          "\"100ms\"",
          "/etc/sniproxy/proxy.toml:9:1: unknown key 'bogus' in [xdp]"));
}

TEST(XdpConfigTest, InterfacesAreRequiredNamedAndDistinct) {
  FakeFiles files(FakeFiles::Map{});
  EXPECT_THAT(errors(load_with("[xdp]\nmode = \"auto\"\n", files)),
              ElementsAre("/etc/sniproxy/proxy.toml:1:1: missing required key 'interfaces' in "
                          "[xdp]"));
  EXPECT_THAT(errors(load_with("[xdp]\ninterfaces = []\n", files)),
              ElementsAre("/etc/sniproxy/proxy.toml:2:14: 'interfaces' must name at least one "
                          "interface"));
  EXPECT_THAT(
      errors(load_with(
          "[xdp]\ninterfaces = [\"eth0\", \"\", \"a-very-long-name0\", \"eth0\", \"x/y\", 3]\n",
          files)),
      ElementsAre("/etc/sniproxy/proxy.toml:2:23: invalid interface name '': 1 to 15 characters, "
                  "without '/', ':' or spaces",
                  "/etc/sniproxy/proxy.toml:2:27: invalid interface name 'a-very-long-name0': 1 "
                  "to 15 characters, without '/', ':' or spaces",
                  "/etc/sniproxy/proxy.toml:2:48: interface 'eth0' is listed twice",
                  "/etc/sniproxy/proxy.toml:2:56: invalid interface name 'x/y': 1 to 15 "
                  "characters, without '/', ':' or spaces",
                  "/etc/sniproxy/proxy.toml:2:63: expected a string for each entry of "
                  "'interfaces', got an integer"));
}

TEST(XdpConfigTest, TooManyPrefixesPerFamily) {
  std::string list;
  for (std::size_t i = 0; i <= kXdpMaxPrefixes; ++i) {
    list += "10." + std::to_string(i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
            std::to_string(i % 256) + "\n";
  }
  FakeFiles files(FakeFiles::Map{{"/etc/sniproxy/big.txt", list}});
  EXPECT_THAT(errors(load_with("[xdp]\ninterfaces = [\"eth0\"]\ndeny_file = \"big.txt\"\n", files)),
              ElementsAre("/etc/sniproxy/proxy.toml:3:13: 'deny' holds 65537 IPv4 prefixes; at "
                          "most 65536 are allowed"));
}

Xdp base() {
  Xdp x;
  x.interfaces = {"eth0"};
  return x;
}

TEST(XdpConfigTest, ReloadAppliesListsAndRatesButNotInterfacesOrMode) {
  EXPECT_EQ(xdp_reload_blocker(std::nullopt, std::nullopt), "");
  EXPECT_EQ(xdp_reload_blocker(std::nullopt, base()), "[xdp] was added");
  EXPECT_EQ(xdp_reload_blocker(base(), std::nullopt), "[xdp] was removed");
  Xdp lists = base();
  lists.deny = {*parse_prefix("192.0.2.0/24")};
  lists.allow = {*parse_prefix("2001:db8::/32")};
  lists.syn_rate = 10;
  lists.syn_burst = 10;
  lists.log_interval = 1s;
  EXPECT_EQ(xdp_reload_blocker(base(), lists), "");
  Xdp other = base();
  other.interfaces = {"eth1"};
  EXPECT_EQ(xdp_reload_blocker(base(), other), "[xdp] interfaces changed");
  Xdp mode = base();
  mode.mode = XdpMode::native;
  EXPECT_EQ(xdp_reload_blocker(base(), mode), "[xdp] mode changed");
}

}  // namespace
}  // namespace sniproxy::config
