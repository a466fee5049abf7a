// [reactor]: auto by default, the three backends by name, mistakes located,
// restart to change.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/reactor_section.hpp"
#include "load_helpers.hpp"

namespace sniproxy::config {
namespace {

using ::testing::ElementsAre;
using testing::errors_of;
using ::testing::HasSubstr;
using testing::kMinimal;
using testing::must_load;

TEST(ReactorConfigTest, AutoUnlessNamed) {
  EXPECT_EQ(must_load(kMinimal).reactor.backend, ReactorBackend::automatic);
  EXPECT_EQ(must_load("[reactor]\nbackend = \"epoll\"\n" + std::string(kMinimal)).reactor.backend,
            ReactorBackend::epoll);
  EXPECT_EQ(
      must_load("[reactor]\nbackend = \"io_uring\"\n" + std::string(kMinimal)).reactor.backend,
      ReactorBackend::io_uring);
  EXPECT_EQ(must_load("[reactor]\nbackend = \"auto\"\n" + std::string(kMinimal)).reactor.backend,
            ReactorBackend::automatic);
}

TEST(ReactorConfigTest, MistakesAreLocated) {
  EXPECT_THAT(errors_of("[reactor]\nbackend = \"kqueue\"\n" + std::string(kMinimal)),
              ElementsAre(AllOf(HasSubstr("t.toml:2:11:"), HasSubstr("epoll"))));
  EXPECT_THAT(errors_of("[reactor]\nbackends = \"epoll\"\n" + std::string(kMinimal)),
              ElementsAre(HasSubstr("did you mean 'backend'")));
}

TEST(ReactorConfigTest, ChangesNeedARestart) {
  Reactor a;
  Reactor b;
  EXPECT_EQ(reactor_reload_blocker(a, b), "");
  b.backend = ReactorBackend::epoll;
  EXPECT_THAT(reactor_reload_blocker(a, b), HasSubstr("restart"));
}

}  // namespace
}  // namespace sniproxy::config
