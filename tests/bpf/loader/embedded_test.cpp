#include <gtest/gtest.h>

#include "bpf/loader/embedded.hpp"

namespace sniproxy::bpf {
namespace {

TEST(Embedded, HoldsEveryBpfCFileByBaseName) {
  auto probe = embedded_source("probe.bpf.c");
  ASSERT_TRUE(probe.has_value());
  EXPECT_NE(probe->find("probe_sk_skb_parser"), std::string_view::npos);
  auto shared = embedded_source("shared_types.h");
  ASSERT_TRUE(shared.has_value());
  EXPECT_NE(shared->find("struct sniproxy_probe_event"), std::string_view::npos);
  EXPECT_FALSE(embedded_source("missing.bpf.c").has_value());
  EXPECT_GE(embedded_files().size(), 2u);
}

TEST(Embedded, FilesAreSortedByName) {
  auto files = embedded_files();
  for (std::size_t i = 1; i < files.size(); ++i) EXPECT_LT(files[i - 1].name, files[i].name);
}

}  // namespace
}  // namespace sniproxy::bpf
