// The DNS mirror map against the running kernel: created with BTF for its
// key and value (what makes bpftool print names and addresses as text),
// written by a cache observer, entries read back with bpf_map_lookup_elem and
// removed again.
#include "bpf/dns_mirror/dns_mirror.hpp"

#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "support/test_support.hpp"

namespace sniproxy::bpf {
namespace {

using namespace std::chrono_literals;

bool lookup(const DnsMirror& mirror, std::uint32_t worker, std::string_view name,
            DnsMirrorValue& value) {
  const DnsMirrorKey key = DnsMirror::key_for(worker, name);
  return bpf_map_lookup_elem(mirror.map_fd(), &key, &value) == 0;
}

TEST(DnsMirror, IsAnLruHashWithBtfForItsKeyAndValue) {
  SKIP_UNLESS_ROOT();
  auto mirror = DnsMirror::create(64);
  ASSERT_TRUE(mirror.ok()) << mirror.error().message;
  bpf_map_info info{};
  std::uint32_t length = sizeof info;
  ASSERT_EQ(bpf_obj_get_info_by_fd((*mirror)->map_fd(), &info, &length), 0);
  EXPECT_EQ(std::string(info.name), "sniproxy_dns");
  EXPECT_EQ(info.type, BPF_MAP_TYPE_LRU_HASH);
  EXPECT_EQ(info.key_size, sizeof(DnsMirrorKey));
  EXPECT_EQ(info.value_size, sizeof(DnsMirrorValue));
  EXPECT_EQ(info.max_entries, 64u);
  EXPECT_EQ(info.id, (*mirror)->map_id());
  EXPECT_NE(info.btf_id, 0u);
  EXPECT_NE(info.btf_key_type_id, 0u);
  EXPECT_NE(info.btf_value_type_id, 0u);
}

TEST(DnsMirror, AnObserverStoresAnswersAndFailuresAndRemovesThem) {
  SKIP_UNLESS_ROOT();
  auto mirror = DnsMirror::create(64);
  ASSERT_TRUE(mirror.ok()) << mirror.error().message;
  auto observer = (*mirror)->observer_for(3);
  const auto expires = std::chrono::steady_clock::now() + 60s;
  observer->stored("a.test",
                   dns::Addresses{IpAddress::v4(192, 0, 2, 1), *IpAddress::parse("2001:db8::1")},
                   expires);
  observer->stored("bad.test", make_error("no such name (NXDOMAIN)"), expires);

  DnsMirrorValue value{};
  ASSERT_TRUE(lookup(**mirror, 3, "a.test", value));
  EXPECT_EQ(value.count, 2u);
  EXPECT_EQ(value.negative, 0u);
  EXPECT_EQ(std::string(value.addresses[0]), "192.0.2.1");
  EXPECT_EQ(std::string(value.addresses[1]), "2001:db8::1");
  EXPECT_EQ(std::string(value.addresses[2]), "");
  const auto now_unix = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  EXPECT_NEAR(static_cast<double>(value.expires_unix), static_cast<double>(now_unix + 60), 2.0);
  EXPECT_FALSE(lookup(**mirror, 0, "a.test", value)) << "keyed by worker too";

  ASSERT_TRUE(lookup(**mirror, 3, "bad.test", value));
  EXPECT_EQ(value.negative, 1u);
  EXPECT_EQ(value.count, 0u);
  EXPECT_EQ(std::string(value.error), "no such name (NXDOMAIN)");

  observer->removed("a.test");
  EXPECT_FALSE(lookup(**mirror, 3, "a.test", value));
  EXPECT_TRUE(lookup(**mirror, 3, "bad.test", value));
}

TEST(DnsMirror, ALongNameIsCutNotOverrun) {
  SKIP_UNLESS_ROOT();
  auto mirror = DnsMirror::create(4);
  ASSERT_TRUE(mirror.ok()) << mirror.error().message;
  const std::string name(300, 'a');
  (*mirror)->store(0, name, dns::Addresses{IpAddress::v4(192, 0, 2, 9)},
                   std::chrono::steady_clock::now() + 1s);
  DnsMirrorValue value{};
  EXPECT_TRUE(lookup(**mirror, 0, name, value));
  EXPECT_EQ(DnsMirror::key_for(0, name).name[255], '\0');
}

}  // namespace
}  // namespace sniproxy::bpf
