// [process]: the defaults (no switch, root refused at start-up), every key,
// mistakes located with FILE:LINE:COL, and that a reload cannot change it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/process_section.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_of;
using testing::kMinimal;
using testing::must_load;

TEST(ProcessConfigTest, AbsentMeansNoUserAndRootNotAllowed) {
  const Process p = must_load(kMinimal).process;
  EXPECT_EQ(p.user, "");
  EXPECT_EQ(p.group, "");
  EXPECT_FALSE(p.allow_root);
  EXPECT_FALSE(p.master);
}

TEST(ProcessConfigTest, EveryKey) {
  const Process p = must_load(
                        "[process]\nuser = \"sniproxy\"\ngroup = \"proxy\"\n"
                        "allow_root = true\nmaster = true\n" +
                        std::string(kMinimal))
                        .process;
  EXPECT_EQ(p.user, "sniproxy");
  EXPECT_EQ(p.group, "proxy");
  EXPECT_TRUE(p.allow_root);
  EXPECT_TRUE(p.master);
}

TEST(ProcessConfigTest, MistakesAreLocatedAndSayWhatIsExpected) {
  EXPECT_THAT(errors_of("[process]\nuser = 65534\n" + std::string(kMinimal)),
              ElementsAre("t.toml:2:8: expected a string for 'user', got an integer"));
  EXPECT_THAT(errors_of("[process]\nuser = \"a:b\"\n" + std::string(kMinimal)),
              ElementsAre("t.toml:2:8: 'user' must be a user name such as \"sniproxy\", got "
                          "\"a:b\""));
  EXPECT_THAT(errors_of("[process]\nuser = \"\"\n" + std::string(kMinimal)),
              ElementsAre("t.toml:2:8: 'user' must be a user name such as \"sniproxy\", got "
                          "\"\""));
  EXPECT_THAT(errors_of("[process]\ngroup = \"proxy\"\n" + std::string(kMinimal)),
              ElementsAre("t.toml:2:9: 'group' needs a 'user' in [process]: add user = \"NAME\" "
                          "or remove group"));
  EXPECT_THAT(errors_of("[process]\nallow_root = \"yes\"\n" + std::string(kMinimal)),
              ElementsAre("t.toml:2:14: expected a boolean (true or false) for 'allow_root', got "
                          "a string"));
  EXPECT_THAT(errors_of("[process]\nusr = \"sniproxy\"\n" + std::string(kMinimal)),
              ElementsAre("t.toml:2:1: unknown key 'usr' in [process]; did you mean 'user'?"));
}

TEST(ProcessConfigTest, AReloadCannotChangeIt) {
  Process running{"sniproxy", "", false};
  EXPECT_EQ(process_reload_blocker(running, running), "");
  Process other_user = running;
  other_user.user = "nobody";
  EXPECT_EQ(process_reload_blocker(running, other_user),
            "[process] user, group, allow_root or master changed");
  Process other_group = running;
  other_group.group = "nogroup";
  EXPECT_NE(process_reload_blocker(running, other_group), "");
  Process root_allowed = running;
  root_allowed.allow_root = true;
  EXPECT_NE(process_reload_blocker(running, root_allowed), "");
  Process with_master = running;
  with_master.master = true;
  EXPECT_NE(process_reload_blocker(running, with_master), "");
}

TEST(DnsConfigTest, BpfMirrorIsOnByDefaultAndCanBeTurnedOff) {
  EXPECT_TRUE(must_load(kMinimal).dns.bpf_mirror);
  EXPECT_FALSE(must_load("[dns]\nbpf_mirror = false\n" + std::string(kMinimal)).dns.bpf_mirror);
  EXPECT_THAT(errors_of("[dns]\nbpf_mirror = 1\n" + std::string(kMinimal)),
              ElementsAre("t.toml:2:14: expected a boolean (true or false) for 'bpf_mirror', got "
                          "an integer"));
}

}  // namespace
}  // namespace sniproxy::config
