#include <gtest/gtest.h>

#include "dogfish/errors.hpp"
#include "dogfish/state.hpp"

namespace dogfish {
namespace {

using namespace std::chrono_literals;
using Clock = RealIds::Clock;

IpAddress ip(const char* text)
{
    return *IpAddress::parse(text);
}

std::set<IpAddress> ips(std::initializer_list<const char*> texts)
{
    std::set<IpAddress> out;
    for (auto t : texts)
        out.insert(ip(t));
    return out;
}

const Clock::time_point t0{};

TEST(RealIds, FirstIdsInAddressOrderFromOne)
{
    RealIds ids;
    ids.reconcile(ips({"10.0.0.2", "10.0.0.1", "fd00::1"}), t0);
    EXPECT_EQ(ids.find(ip("10.0.0.1")), 1U);
    EXPECT_EQ(ids.find(ip("10.0.0.2")), 2U);
    EXPECT_EQ(ids.find(ip("fd00::1")), 3U);
    EXPECT_EQ(ids.find(ip("10.0.0.3")), DF_REAL_NONE);
}

TEST(RealIds, IdsStayWhileConfigured)
{
    RealIds ids;
    ids.reconcile(ips({"10.0.0.1", "10.0.0.2", "10.0.0.3"}), t0);
    const auto before = ids.ids();
    // Add some in front, drop one: the others keep their ids through every step.
    ids.reconcile(ips({"10.0.0.0", "10.0.0.1", "10.0.0.3", "10.0.0.9"}), t0 + 1s);
    EXPECT_EQ(ids.find(ip("10.0.0.1")), before.at(ip("10.0.0.1")));
    EXPECT_EQ(ids.find(ip("10.0.0.3")), before.at(ip("10.0.0.3")));
    EXPECT_EQ(ids.find(ip("10.0.0.2")), DF_REAL_NONE);
    // New reals took never-used ids, not the just-released 2.
    EXPECT_EQ(ids.find(ip("10.0.0.0")), 4U);
    EXPECT_EQ(ids.find(ip("10.0.0.9")), 5U);
    ids.reconcile(ips({"10.0.0.1", "10.0.0.3", "10.0.0.9"}), t0 + 2s);
    EXPECT_EQ(ids.find(ip("10.0.0.9")), 5U);
    EXPECT_EQ(ids.find(ip("10.0.0.1")), 1U);
}

TEST(RealIds, ARealThatComesBackGetsItsIdBack)
{
    RealIds ids;
    ids.reconcile(ips({"10.0.0.1", "10.0.0.2"}), t0);
    ids.reconcile(ips({"10.0.0.1"}), t0 + 1s);
    ids.reconcile(ips({"10.0.0.1", "10.0.0.5", "10.0.0.2"}), t0 + 2s);
    EXPECT_EQ(ids.find(ip("10.0.0.2")), 2U);
    EXPECT_EQ(ids.find(ip("10.0.0.5")), 3U);
}

TEST(RealIds, ReleasedIdsAreReusedLastLowestFirstAfterQuarantine)
{
    RealIds ids(5, 60s); // ids 1..4
    ids.reconcile(ips({"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}), t0);
    ids.reconcile(ips({"10.0.0.1"}), t0 + 10s); // releases 2, 3, 4
    // All fresh ids are gone and 2..4 are in quarantine: nothing changes.
    EXPECT_THROW(ids.reconcile(ips({"10.0.0.1", "10.0.0.7"}), t0 + 30s), Error);
    EXPECT_EQ(ids.ids().size(), 1U);
    ids.reconcile(ips({"10.0.0.1", "10.0.0.8", "10.0.0.7"}), t0 + 70s);
    EXPECT_EQ(ids.find(ip("10.0.0.7")), 2U);
    EXPECT_EQ(ids.find(ip("10.0.0.8")), 3U);
    EXPECT_EQ(ids.find(ip("10.0.0.1")), 1U);
}

TEST(RealIds, FailedReconcileChangesNothing)
{
    RealIds ids(3);
    ids.reconcile(ips({"10.0.0.1", "10.0.0.2"}), t0);
    EXPECT_THROW(ids.reconcile(ips({"10.0.0.3", "10.0.0.4", "10.0.0.5"}), t0 + 1s), Error);
    EXPECT_EQ(ids.find(ip("10.0.0.1")), 1U);
    EXPECT_EQ(ids.find(ip("10.0.0.2")), 2U);
    EXPECT_EQ(ids.ids().size(), 2U);
}

TEST(RealIds, StableAcrossConfigReloads)
{
    const char* head = "interface: eth0\ngateway: 10.0.0.254\n";
    auto one = parse_config(std::string(head) +
                                "vips:\n  - {address: 10.1.0.1, port: 80, proto: tcp, reals: [{address: 10.0.1.1}, "
                                "{address: 10.0.1.2}]}\n"
                                "  - {address: 10.1.0.2, port: 53, proto: udp, reals: [{address: 10.0.1.2}, "
                                "{address: 10.0.1.3}]}\n",
                            "one.yaml");
    // 10.0.1.2 leaves the first VIP but stays in the second: its id must not change.
    auto two = parse_config(std::string(head) +
                                "vips:\n  - {address: 10.1.0.1, port: 80, proto: tcp, reals: [{address: 10.0.1.0}, "
                                "{address: 10.0.1.1}]}\n"
                                "  - {address: 10.1.0.2, port: 53, proto: udp, reals: [{address: 10.0.1.2}]}\n",
                            "two.yaml");
    RealIds ids;
    ids.reconcile(configured_reals(one), t0);
    const auto first = ids.ids();
    ids.reconcile(configured_reals(two), t0 + 1s);
    EXPECT_EQ(ids.find(ip("10.0.1.1")), first.at(ip("10.0.1.1")));
    EXPECT_EQ(ids.find(ip("10.0.1.2")), first.at(ip("10.0.1.2")));
    EXPECT_EQ(ids.find(ip("10.0.1.3")), DF_REAL_NONE);
    EXPECT_EQ(ids.find(ip("10.0.1.0")), 4U);
}

constexpr const char* kBefore = R"(interface: eth0
gateway: 10.0.0.254
vips:
  - address: 10.1.0.1
    port: 80
    proto: tcp
    reals:
      - {address: 10.0.1.1, weight: 1}
      - {address: 10.0.1.2, weight: 1}
      - {address: 10.0.1.3, weight: 0}
  - address: 10.1.0.2
    port: 53
    proto: udp
    reals: [{address: 10.0.1.1}]
  - address: 10.1.0.3
    port: 443
    proto: tcp
    reals: [{address: 10.0.1.9}]
)";

TEST(ConfigDiff, NothingChanged)
{
    auto c = parse_config(kBefore, "a.yaml");
    EXPECT_TRUE(diff_configs(c, c).empty());
}

TEST(ConfigDiff, VipsAndRealsAddedRemovedReweighted)
{
    auto before = parse_config(kBefore, "a.yaml");
    auto after = before;
    // VIP 0: 10.0.1.2 reweighted, 10.0.1.3 (drained) removed, 10.0.1.4 added with weight 0.
    after.vips[0].reals = {{ip("10.0.1.1"), 1}, {ip("10.0.1.2"), 3}, {ip("10.0.1.4"), 0}};
    // VIP 1: only its flags change.
    after.vips[1].flags = DF_VIP_SRC_HASH_ONLY;
    // VIP 2 goes, VIP 3 comes.
    after.vips.erase(after.vips.begin() + 2);
    after.vips.push_back({.address = ip("fd00::80"), .port = 80, .proto = Proto::tcp, .flags = 0,
                          .reals = {{ip("fd00::1"), 1}}});

    auto d = diff_configs(before, after);
    EXPECT_EQ(d.vips_added, std::vector<VipKey>{vip_key(after.vips[2])});
    EXPECT_EQ(d.vips_removed, std::vector<VipKey>{vip_key(before.vips[2])});
    ASSERT_EQ(d.vips_changed.size(), 2U);
    const auto& v0 = d.vips_changed[0];
    EXPECT_EQ(v0.key, vip_key(before.vips[0]));
    EXPECT_EQ(v0.reals_added, (std::vector<RealConfig>{{ip("10.0.1.4"), 0}}));
    EXPECT_EQ(v0.reals_removed, std::vector<IpAddress>{ip("10.0.1.3")});
    EXPECT_EQ(v0.reals_reweighted, (std::vector<Reweight>{{ip("10.0.1.2"), 1, 3}}));
    EXPECT_FALSE(v0.flags_changed);
    const auto& v1 = d.vips_changed[1];
    EXPECT_TRUE(v1.flags_changed);
    EXPECT_TRUE(v1.reals_added.empty() && v1.reals_removed.empty() && v1.reals_reweighted.empty());
    // Rings: VIP 0 (a weight changed) and the new VIP; not VIP 1 (flags only).
    EXPECT_EQ(d.rings_to_build, (std::vector<VipKey>{vip_key(before.vips[0]), vip_key(after.vips[2])}));
    EXPECT_EQ(d.reals_added, (std::vector<IpAddress>{ip("10.0.1.4"), ip("fd00::1")}));
    EXPECT_EQ(d.reals_removed, (std::vector<IpAddress>{ip("10.0.1.3"), ip("10.0.1.9")}));
    EXPECT_FALSE(d.data_plane_config_changed);
    EXPECT_FALSE(d.needs_restart);
}

TEST(ConfigDiff, DrainedRealsDoNotMoveTheRing)
{
    auto before = parse_config(kBefore, "a.yaml");
    auto after = before;
    after.vips[0].reals.push_back({ip("10.0.1.7"), 0}); // another drained real: same ring
    after.vips[0].reals.erase(after.vips[0].reals.begin() + 2); // the drained 10.0.1.3 goes: same ring
    auto d = diff_configs(before, after);
    EXPECT_TRUE(d.rings_to_build.empty());
    ASSERT_EQ(d.vips_changed.size(), 1U);
    // Draining a real (weight to 0) does rebuild.
    after.vips[0].reals[1].weight = 0;
    EXPECT_EQ(diff_configs(before, after).rings_to_build, std::vector<VipKey>{vip_key(before.vips[0])});
}

TEST(ConfigDiff, GlobalChanges)
{
    auto before = parse_config(kBefore, "a.yaml");
    auto after = before;
    after.udp_idle_timeout_s = 10;
    auto d = diff_configs(before, after);
    EXPECT_TRUE(d.data_plane_config_changed);
    EXPECT_FALSE(d.needs_restart);
    after.gateway = ip("10.0.0.253"); // not in df_config until resolved, still a change
    EXPECT_TRUE(diff_configs(before, after).data_plane_config_changed);
    after = before;
    after.ring_size = 131071;
    d = diff_configs(before, after);
    EXPECT_TRUE(d.needs_restart);
    EXPECT_EQ(d.rings_to_build.size(), 3U);
}

} // namespace
} // namespace dogfish
