#include "dns/ares_status.hpp"

#include <ares.h>
#include <gtest/gtest.h>

namespace sniproxy::dns {
namespace {

TEST(DnsAresStatus, MessagesNameTheCause) {
  EXPECT_EQ(lookup_error_message(ARES_ENOTFOUND, "x.test", ""),
            "x.test: no such domain (NXDOMAIN)");
  EXPECT_EQ(lookup_error_message(ARES_ETIMEOUT, "x.test", ""), "x.test: timed out");
  EXPECT_EQ(lookup_error_message(ARES_ESERVFAIL, "x.test", ""),
            "x.test: server failure (SERVFAIL)");
  EXPECT_EQ(lookup_error_message(ARES_ENODATA, "x.test", "no IPv4 address for x.test"),
            "no IPv4 address for x.test");
  EXPECT_EQ(lookup_error_message(ARES_ECONNREFUSED, "x.test", "").rfind("x.test: no DNS server", 0),
            0u);
}

TEST(DnsAresStatus, LocalConditionsAreNotCached) {
  EXPECT_TRUE(is_cacheable_failure(ARES_ENOTFOUND));
  EXPECT_TRUE(is_cacheable_failure(ARES_ETIMEOUT));
  EXPECT_TRUE(is_cacheable_failure(ARES_ESERVFAIL));
  EXPECT_FALSE(is_cacheable_failure(ARES_ENOMEM));
  EXPECT_FALSE(is_cacheable_failure(ARES_EDESTRUCTION));
  EXPECT_FALSE(is_cacheable_failure(ARES_ECANCELLED));
}

}  // namespace
}  // namespace sniproxy::dns
