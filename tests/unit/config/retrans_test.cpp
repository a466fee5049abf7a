// [retrans]: off unless present, bounds checked, restart to change.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/retrans_section.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_of;
using ::testing::HasSubstr;
using testing::kMinimal;
using testing::must_load;

TEST(RetransConfigTest, AbsentMeansOffPresentMeansOnWithDefaults) {
  EXPECT_FALSE(must_load(kMinimal).retrans.has_value());
  const Config c = must_load("[retrans]\n" + std::string(kMinimal));
  ASSERT_TRUE(c.retrans);
  EXPECT_EQ(c.retrans->log_rate, 10u);
  EXPECT_EQ(c.retrans->max_sockets, 65536u);
  const Config d =
      must_load("[retrans]\nlog_rate = 0\nmax_sockets = 1024\n" + std::string(kMinimal));
  EXPECT_EQ(d.retrans->log_rate, 0u);
  EXPECT_EQ(d.retrans->max_sockets, 1024u);
}

TEST(RetransConfigTest, MistakesAreLocated) {
  EXPECT_THAT(errors_of("[retrans]\nmax_sockets = 10\n" + std::string(kMinimal)),
              ElementsAre(HasSubstr("t.toml:2:15:")));
  EXPECT_THAT(errors_of("[retrans]\nlog_rates = 3\n" + std::string(kMinimal)),
              ElementsAre(HasSubstr("did you mean 'log_rate'")));
}

TEST(RetransConfigTest, ChangesNeedARestart) {
  Retrans a;
  Retrans b;
  EXPECT_EQ(retrans_reload_blocker(a, b), "");
  EXPECT_EQ(retrans_reload_blocker(std::nullopt, a), "[retrans] added or removed");
  b.log_rate = 1;
  EXPECT_EQ(retrans_reload_blocker(a, b), "[retrans] changed");
}

}  // namespace
}  // namespace sniproxy::config
