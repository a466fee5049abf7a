// hash_source / hash_name: Maglev tables, their shares and how few keys
// move when the members change.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "upstream/balancer.hpp"
#include "upstream/key_hash.hpp"
#include "upstream/maglev.hpp"

namespace sniproxy::upstream {
namespace {

using testing::balancer_members;
using testing::idle;

constexpr int kKeys = 10'000;

std::uint64_t key(int i) {
  return hash_of("client-" + std::to_string(i));
}

// The member id each key goes to.
std::vector<std::uint64_t> placement(const std::vector<BalancerMember>& members) {
  auto b = make_balancer(config::Balance::hash_source, members, 0);
  std::vector<Candidate> candidates(members.size(), Candidate{true, 1, 0});
  std::vector<std::uint64_t> out;
  for (int i = 0; i < kKeys; ++i) out.push_back(members[*b->pick({candidates, key(i)})].id);
  return out;
}

TEST(Maglev, TableSizeIsFixed) {
  EXPECT_EQ(MaglevTable(balancer_members({1})).size(), kMaglevTableSize);
  EXPECT_EQ(MaglevTable(balancer_members({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})).size(),
            kMaglevTableSize);
  EXPECT_EQ(MaglevTable({}).size(), 0u);
}

TEST(Maglev, EqualWeightsShareTheSlotsEvenly) {
  const auto members = balancer_members({1, 1, 1, 1, 1});
  MaglevTable table(members);
  std::vector<int> slots(members.size(), 0);
  for (std::size_t s = 0; s < table.size(); ++s) ++slots[table.owner(s)];
  for (int n : slots) EXPECT_NEAR(n, static_cast<double>(table.size()) / 5, 1.0);
}

TEST(Maglev, SameMembersInAnotherOrderSameTable) {
  auto members = balancer_members({1, 2, 3, 1});
  MaglevTable a(members);
  std::reverse(members.begin(), members.end());
  MaglevTable b(members);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t s = 0; s < a.size(); ++s) EXPECT_EQ(a.owner(s), 3 - b.owner(s)) << s;
}

TEST(ConsistentHash, KeysSpreadEvenly) {
  const auto members = balancer_members({1, 1, 1, 1});
  std::map<std::uint64_t, int> n;
  for (std::uint64_t id : placement(members)) ++n[id];
  ASSERT_EQ(n.size(), 4u);
  for (const auto& [id, count] : n) EXPECT_NEAR(count, kKeys / 4, kKeys / 4 / 10);
}

TEST(ConsistentHash, WeightsSetTheShares) {
  const auto members = balancer_members({1, 2, 1});
  std::map<std::uint64_t, int> n;
  for (std::uint64_t id : placement(members)) ++n[id];
  EXPECT_NEAR(n[members[0].id], kKeys / 4, kKeys / 40);
  EXPECT_NEAR(n[members[1].id], kKeys / 2, kKeys / 40);
  EXPECT_NEAR(n[members[2].id], kKeys / 4, kKeys / 40);
}

TEST(ConsistentHash, RemovingOneOfTenMovesAboutATenth) {
  auto ten = balancer_members({1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  const auto before = placement(ten);
  const std::uint64_t removed = ten[3].id;
  ten.erase(ten.begin() + 3);
  const auto after = placement(ten);
  int moved = 0, moved_from_staying = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    if (before[i] != removed) ++moved_from_staying;
  }
  // The removed member's keys (about 1/10) must move; Maglev moves a few more.
  EXPECT_GT(moved, kKeys / 20);
  EXPECT_LT(moved, kKeys * 15 / 100);
  EXPECT_LT(moved_from_staying, kKeys * 2 / 100);
}

TEST(ConsistentHash, AddingOneToTenMovesAboutAnEleventh) {
  auto members = balancer_members({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1});
  const BalancerMember added = members.back();
  members.pop_back();
  const auto before = placement(members);
  members.push_back(added);
  const auto after = placement(members);
  int moved = 0, moved_elsewhere = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    if (after[i] != added.id) ++moved_elsewhere;
  }
  EXPECT_LT(moved, kKeys * 15 / 100);
  EXPECT_LT(moved_elsewhere, kKeys * 2 / 100);
}

TEST(ConsistentHash, AnIneligibleMembersKeysMoveAndTheRestStay) {
  const auto members = balancer_members({1, 1, 1, 1, 1});
  auto b = make_balancer(config::Balance::hash_name, members, 0);
  auto candidates = idle({1, 1, 1, 1, 1});
  std::vector<std::size_t> before, after;
  for (int i = 0; i < kKeys; ++i) before.push_back(*b->pick({candidates, key(i)}));
  candidates[2].eligible = false;  // down, or tried by this connection
  for (int i = 0; i < kKeys; ++i) after.push_back(*b->pick({candidates, key(i)}));
  std::vector<int> moved_to(members.size(), 0);
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] == 2) {
      EXPECT_NE(after[i], 2u);
      ++moved_to[after[i]];
    } else {
      EXPECT_EQ(after[i], before[i]) << "key " << i << " moved though its member is up";
    }
  }
  // The moved keys spread over the others rather than piling on one.
  for (std::size_t m : {0u, 1u, 3u, 4u}) EXPECT_GT(moved_to[m], 200) << m;
  // And each moves the same way every time.
  for (int i = 0; i < 100; ++i) EXPECT_EQ(*b->pick({candidates, key(i)}), after[i]);
}

TEST(ConsistentHash, NoEligibleMemberNoPick) {
  auto b = make_balancer(config::Balance::hash_source, balancer_members({1, 1}), 0);
  std::vector<Candidate> candidates(2, Candidate{false, 1, 0});
  EXPECT_FALSE(b->pick({candidates, 1}).has_value());
}

TEST(KeyHash, MappedIpv4HashesAsIpv4) {
  EXPECT_EQ(hash_of(*IpAddress::parse("::ffff:192.0.2.1")),
            hash_of(*IpAddress::parse("192.0.2.1")));
  EXPECT_NE(hash_of(*IpAddress::parse("192.0.2.1")), hash_of(*IpAddress::parse("192.0.2.2")));
  EXPECT_NE(hash_bytes("a", 1), hash_bytes("a", 2));
}

}  // namespace
}  // namespace sniproxy::upstream
