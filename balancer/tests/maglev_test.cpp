#include "dogfish/maglev.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "dogfish/base/errors.hpp"

namespace dogfish {
namespace {

constexpr std::uint32_t kRing = DF_DEFAULT_RING_SIZE;

// n reals at distinct pseudo-random addresses (a mix of IPv4 and IPv6), ids 1..n,
// weights drawn from [min_weight, max_weight]. Deterministic everywhere: mt19937's
// output is specified (uniform_int_distribution's is not, so it is not used).
std::vector<MaglevReal> make_reals(std::size_t n, std::uint32_t min_weight = 1,
                                   std::uint32_t max_weight = 1, std::uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::map<IpAddress, bool> seen;
  std::vector<MaglevReal> reals;
  while (reals.size() < n) {
    IpAddress a;
    a.family = rng() % 4 == 0 ? DF_FAMILY_V6 : DF_FAMILY_V4;
    for (std::size_t i = 0; i < a.size(); ++i) a.bytes[i] = static_cast<std::uint8_t>(rng());
    if (!seen.emplace(a, true).second) continue;
    reals.push_back(
        {.address = a,
         .weight = min_weight + static_cast<std::uint32_t>(rng() % (max_weight - min_weight + 1)),
         .id = static_cast<std::uint32_t>(reals.size() + 1)});
  }
  return reals;
}

std::map<std::uint32_t, std::uint32_t> slot_counts(const std::vector<std::uint32_t>& ring) {
  std::map<std::uint32_t, std::uint32_t> counts;
  for (auto id : ring) ++counts[id];
  return counts;
}

// The largest |share - weight share| / weight share over the reals.
double worst_share_error(const std::vector<MaglevReal>& reals,
                         const std::vector<std::uint32_t>& ring) {
  auto counts = slot_counts(ring);
  double total = 0;
  for (const auto& r : reals) total += r.weight;
  double worst = 0;
  for (const auto& r : reals) {
    double want = r.weight / total;
    double got = static_cast<double>(counts[r.id]) / static_cast<double>(ring.size());
    worst = std::max(worst, std::abs(got - want) / want);
  }
  return worst;
}

// The ring as addresses: what placement means, whatever the ids.
std::vector<IpAddress> placement(const std::vector<MaglevReal>& reals,
                                 const std::vector<std::uint32_t>& ring) {
  std::map<std::uint32_t, IpAddress> by_id;
  for (const auto& r : reals) by_id[r.id] = r.address;
  std::vector<IpAddress> out;
  out.reserve(ring.size());
  for (auto id : ring) out.push_back(by_id.at(id));
  return out;
}

TEST(Maglev, RingSizeMustBePrime) {
  EXPECT_THROW(Maglev(65536), Error);
  EXPECT_THROW(Maglev(1), Error);
  EXPECT_THROW(Maglev(2), Error);
  EXPECT_THROW(Maglev(Maglev::kMaxRingSize + 1), Error);
  EXPECT_NO_THROW(Maglev(13));
  EXPECT_NO_THROW(Maglev(131071));
  EXPECT_EQ(Maglev().ring_size(), kRing);
}

TEST(Maglev, EmptySetIsAllNone) {
  auto ring = Maglev().build({});
  ASSERT_EQ(ring.size(), kRing);
  EXPECT_TRUE(std::all_of(ring.begin(), ring.end(), [](auto id) { return id == DF_REAL_NONE; }));

  auto reals = make_reals(3);
  for (auto& r : reals) r.weight = 0;
  ring = Maglev().build(reals);
  EXPECT_TRUE(std::all_of(ring.begin(), ring.end(), [](auto id) { return id == DF_REAL_NONE; }));
}

TEST(Maglev, WeightZeroGetsNoSlots) {
  auto reals = make_reals(5);
  reals[2].weight = 0;
  auto counts = slot_counts(Maglev().build(reals));
  EXPECT_EQ(counts.count(reals[2].id), 0U);
  EXPECT_EQ(counts.count(DF_REAL_NONE), 0U);
  EXPECT_EQ(counts.size(), 4U);
}

TEST(Maglev, OneRealTakesEverySlot) {
  auto reals = make_reals(1);
  auto counts = slot_counts(Maglev().build(reals));
  EXPECT_EQ(counts[reals[0].id], kRing);
}

TEST(Maglev, SmallPrimeRing) {
  auto reals = make_reals(3);
  auto ring = Maglev(7).build(reals);
  auto counts = slot_counts(ring);
  EXPECT_EQ(counts.count(DF_REAL_NONE), 0U);
  for (const auto& r : reals) EXPECT_GE(counts[r.id], 2U);
}

TEST(Maglev, RejectsDuplicateAddressAndMissingId) {
  auto reals = make_reals(3);
  reals[2].address = reals[0].address;
  EXPECT_THROW(Maglev().build(reals), Error);
  reals = make_reals(3);
  reals[1].id = DF_REAL_NONE;
  EXPECT_THROW(Maglev().build(reals), Error);
  reals[1].weight = 0;  // a drained real needs no id
  EXPECT_NO_THROW(Maglev().build(reals));
}

class MaglevBalance : public testing::TestWithParam<std::size_t> {};

TEST_P(MaglevBalance, EqualWeightsWithinOnePercent) {
  auto reals = make_reals(GetParam());
  double worst = worst_share_error(reals, Maglev().build(reals));
  std::printf("balance, %zu equal reals: worst relative share error %.3f%%\n", GetParam(),
              worst * 100);
  EXPECT_LE(worst, 0.01);
}

TEST_P(MaglevBalance, UnequalWeightsWithinOnePercent) {
  auto reals = make_reals(GetParam(), 1, 10, 7);
  double worst = worst_share_error(reals, Maglev().build(reals));
  std::printf("balance, %zu reals weighted 1-10: worst relative share error %.3f%%\n", GetParam(),
              worst * 100);
  EXPECT_LE(worst, 0.01);
}

INSTANTIATE_TEST_SUITE_P(TwoToHundred, MaglevBalance,
                         testing::Values(2, 3, 5, 8, 10, 17, 32, 50, 64, 99, 100));

TEST(Maglev, ThousandRealsWithinTwoPercent) {
  // 65537 slots over 1,000 reals is ~65 slots each: one slot is 1.5%, so weights
  // here keep the lightest real's share above 50 slots.
  for (auto [lo, hi] : {std::pair{1U, 1U}, std::pair{4U, 6U}}) {
    auto reals = make_reals(1000, lo, hi, 3);
    double worst = worst_share_error(reals, Maglev().build(reals));
    std::printf("balance, 1000 reals weighted %u-%u: worst relative share error %.3f%%\n", lo, hi,
                worst * 100);
    EXPECT_LE(worst, 0.02);
  }
}

class MaglevDisruption : public testing::TestWithParam<std::size_t> {};

// Removing one real moves its own slots and at most 1% of the ring besides.
// The share of the ring that moves, besides the slots of reals that left, from one ring to the
// next.
double extra_moved(const std::vector<std::uint32_t>& before,
                   const std::vector<std::uint32_t>& after, const std::set<std::uint32_t>& gone) {
  std::size_t extra = 0;
  for (std::size_t i = 0; i < before.size(); ++i)
    extra += !gone.contains(before[i]) && before[i] != after[i];
  return static_cast<double>(extra) / static_cast<double>(before.size());
}

// Removing one real moves its own slots and at most 1% of the ring besides.
void check_removal(std::size_t n, std::uint32_t min_weight, std::uint32_t max_weight) {
  auto reals = make_reals(n, min_weight, max_weight, 11);
  const Maglev maglev;
  const auto before = maglev.build(reals);
  double worst = 0;
  for (std::size_t victim : {std::size_t{0}, n / 3, n / 2, n - 1}) {
    auto fewer = reals;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(victim));
    const auto after = maglev.build(fewer);
    EXPECT_EQ(std::count(after.begin(), after.end(), reals[victim].id), 0);
    worst = std::max(worst, extra_moved(before, after, {reals[victim].id}));
  }
  std::printf(
      "disruption, %zu reals weighted %u-%u less one: at most %.3f%% of the ring moved besides its "
      "slots\n",
      n, min_weight, max_weight, worst * 100);
  EXPECT_LE(worst, 0.01);
}

TEST_P(MaglevDisruption, RemovingOneRealMovesLittleElse) { check_removal(GetParam(), 1, 1); }

TEST_P(MaglevDisruption, RemovingOneWeightedRealMovesLittleElse) {
  check_removal(GetParam(), 1, 4);
}

INSTANTIATE_TEST_SUITE_P(Sizes, MaglevDisruption, testing::Values(10, 100, 1000));

TEST(Maglev, ShuffledInputSameRing) {
  auto reals = make_reals(100, 1, 5);
  const Maglev maglev;
  const auto ring = maglev.build(reals);
  std::mt19937 rng(42);
  for (int i = 0; i < 5; ++i) {
    std::shuffle(reals.begin(), reals.end(), rng);
    EXPECT_EQ(maglev.build(reals), ring);
  }
}

TEST(Maglev, IdsDoNotMovePlacement) {
  auto reals = make_reals(50, 1, 3);
  const Maglev maglev;
  const auto before = placement(reals, maglev.build(reals));
  for (auto& r : reals) r.id = 1000 + r.id * 7 % 53;
  EXPECT_EQ(placement(reals, maglev.build(reals)), before);
}

TEST(Maglev, DrainedRealIsLikeAbsent) {
  auto reals = make_reals(20);
  const Maglev maglev;
  auto drained = reals;
  drained[4].weight = 0;
  auto removed = reals;
  removed.erase(removed.begin() + 4);
  EXPECT_EQ(maglev.build(drained), maglev.build(removed));
}

}  // namespace
}  // namespace dogfish

namespace dogfish {
namespace {

std::uint64_t fnv1a(const std::vector<std::uint32_t>& ring) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (auto id : ring) {
    h ^= id;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The placement is a contract between balancers (and between versions of this
// one): these digests change only if the seeds or the algorithm do.
TEST(Maglev, PlacementIsPinned) {
  const Maglev maglev;
  EXPECT_EQ(fnv1a(maglev.build(make_reals(10))), 0x44bc1a8b44af2a74ULL);
  EXPECT_EQ(fnv1a(maglev.build(make_reals(100, 1, 5))), 0x38cddafa8a2242ddULL);
  EXPECT_EQ(fnv1a(maglev.build(make_reals(1000, 1, 3))), 0xcebe6258c63f81a2ULL);
  // Other primes, checked against a build that never switches to the dense search.
  EXPECT_EQ(fnv1a(Maglev(4099).build(make_reals(30, 1, 4))), 0x69e523df208abe6bULL);
  EXPECT_EQ(fnv1a(Maglev(131071).build(make_reals(300, 1, 4))), 0x21c4bc91dab8cc45ULL);
  // The weighted round robin's ways of listing turns, checked against its first version
  // (credit per real, one round at a time): weights with a common divisor (periods of
  // turns), many distinct weights (round by round, credits above max_weight once the
  // heaviest have left), weights near 2^32.
  auto scaled = make_reals(40, 1, 4, 5);
  for (auto& r : scaled) r.weight *= 300;
  EXPECT_EQ(fnv1a(maglev.build(scaled)), 0x7e58afae9770aa92ULL);
  EXPECT_EQ(fnv1a(Maglev(4099).build(make_reals(60, 1, 1000, 6))), 0xd2336e5eabdca93eULL);
  auto huge = make_reals(12, 1, 3, 8);
  huge[0].weight = UINT32_MAX;
  huge[5].weight = UINT32_MAX - 1;
  huge[9].weight = 1U << 31;
  EXPECT_EQ(fnv1a(maglev.build(huge)), 0x61b73f03766e6530ULL);
}

}  // namespace
}  // namespace dogfish
