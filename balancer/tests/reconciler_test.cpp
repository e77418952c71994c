#include "dogfish/reconciler.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "dogfish/base/errors.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/maglev.hpp"
#include "fake_data_plane.hpp"

namespace dogfish {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

VipConfig vip(const char* address, uint16_t port, std::vector<RealConfig> reals,
              Proto proto = Proto::tcp) {
  return {.address = ip(address), .port = port, .proto = proto, .reals = std::move(reals)};
}

RealConfig real(const char* address, uint32_t weight = 1) {
  return {.address = ip(address), .weight = weight};
}

Config config(std::vector<VipConfig> vips) {
  return {
      .interface = "eth0", .ring_size = 13, .max_vips = 4, .max_reals = 8, .vips = std::move(vips)};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  FakeDataPlane dp;
  Reconciler rec{dp, {.ring_grace = std::chrono::milliseconds(0)}};
  df_config df{};

  // A connection-table entry: a client port's flow to the VIP, on the real `address`.
  df_flow_key remember(const char* vip_address, uint16_t port, Proto proto, uint16_t client_port,
                       const char* address) {
    df_flow_key k{};
    k.vip = to_df_key({ip(vip_address), port, proto});
    k.sport = htons(client_port);
    dp.conns[k] = {.real_id = *rec.real_id(ip(address)), .atime = 0};
    return k;
  }

  const df_vip_meta& meta(const char* address, uint16_t port, Proto proto = Proto::tcp) {
    return dp.vips.at(to_df_key({ip(address), port, proto}));
  }
  std::set<uint32_t> ring_ids(uint32_t ring) {
    const auto& r = dp.rings.at(ring);
    return {r.begin(), r.end()};
  }
};

TEST_F(ReconcilerTest, FirstApplyWritesEverything) {
  auto r = rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")}),
                             vip("10.0.0.1", 53, {real("10.1.0.2")}, Proto::udp)}),
                     df);
  EXPECT_EQ(r.vips_added, 2u);
  EXPECT_EQ(r.reals_added, 2u);
  EXPECT_EQ(dp.ring_writes.size(), 2u);
  EXPECT_EQ(dp.vips.size(), 2u);
  EXPECT_EQ(dp.vip_addrs.size(), 1u);  // one address, two VIPs
  uint32_t a = *rec.real_id(ip("10.1.0.1")), b = *rec.real_id(ip("10.1.0.2"));
  EXPECT_NE(a, b);
  EXPECT_EQ(dp.reals[a].family, DF_FAMILY_V4);
  const auto& m = meta("10.0.0.1", 80);
  EXPECT_EQ(m.ring_slot, m.vip_id * 2);
  EXPECT_EQ(ring_ids(m.ring_slot), (std::set<uint32_t>{a, b}));
}

TEST_F(ReconcilerTest, SameConfigWritesNothing) {
  Config c = config({vip("10.0.0.1", 80, {real("10.1.0.1")})});
  rec.apply(c, df);
  int writes = dp.writes;
  auto r = rec.apply(c, df);
  EXPECT_EQ(dp.writes, writes);
  EXPECT_EQ(r.rings_written, 0u);
}

TEST_F(ReconcilerTest, OnlyTheChangedVipGetsANewRingByFlip) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1")}),
                    vip("10.0.0.2", 80, {real("10.1.0.1"), real("10.1.0.2")})}),
            df);
  uint32_t before1 = meta("10.0.0.1", 80).ring_slot, before2 = meta("10.0.0.2", 80).ring_slot;
  dp.ring_writes.clear();
  auto r = rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1")}),
                             vip("10.0.0.2", 80, {real("10.1.0.1"), real("10.1.0.2", 3)})}),
                     df);
  EXPECT_EQ(r.rings_written, 1u);
  EXPECT_EQ(meta("10.0.0.1", 80).ring_slot, before1);
  uint32_t after2 = meta("10.0.0.2", 80).ring_slot;
  EXPECT_EQ(dp.ring_writes, std::vector<uint32_t>{after2});
  EXPECT_EQ(after2 / 2, before2 / 2);  // the same VIP's other ring
  EXPECT_NE(after2, before2);
  // And back again: flips to the first ring.
  rec.apply(
      config({vip("10.0.0.1", 80, {real("10.1.0.1")}), vip("10.0.0.2", 80, {real("10.1.0.1")})}),
      df);
  EXPECT_EQ(meta("10.0.0.2", 80).ring_slot, before2);
}

TEST_F(ReconcilerTest, ReorderingRealsWritesNothing) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")})}), df);
  int writes = dp.writes;
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.2"), real("10.1.0.1")})}), df);
  EXPECT_EQ(dp.writes, writes);
}

TEST_F(ReconcilerTest, FlagsChangeRepublishesWithoutRing) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1")})}), df);
  dp.ring_writes.clear();
  Config c = config({vip("10.0.0.1", 80, {real("10.1.0.1")})});
  c.vips[0].flags = DF_VIP_NO_CONN_TABLE;
  rec.apply(c, df);
  EXPECT_TRUE(dp.ring_writes.empty());
  EXPECT_EQ(meta("10.0.0.1", 80).flags, uint32_t(DF_VIP_NO_CONN_TABLE));
}

TEST_F(ReconcilerTest, RealIdsStableWhileConfiguredAnywhere) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")}),
                    vip("10.0.0.2", 80, {real("10.1.0.2")})}),
            df);
  uint32_t b = *rec.real_id(ip("10.1.0.2"));
  // Leaves the first VIP, stays in the second: same id.
  rec.apply(
      config({vip("10.0.0.1", 80, {real("10.1.0.1")}), vip("10.0.0.2", 80, {real("10.1.0.2")})}),
      df);
  EXPECT_EQ(*rec.real_id(ip("10.1.0.2")), b);
  // Comes back to the first VIP: still the same id.
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")}),
                    vip("10.0.0.2", 80, {real("10.1.0.2")})}),
            df);
  EXPECT_EQ(*rec.real_id(ip("10.1.0.2")), b);
  EXPECT_EQ(ring_ids(meta("10.0.0.1", 80).ring_slot).count(b), 1u);
}

// A real's encapsulation is part of its one entry: a change rewrites that entry under the same
// id, and nothing else; a restarted reconciler reads it back and changes nothing.
TEST_F(ReconcilerTest, ARealChangesItsEncapsulationInPlace) {
  Config c = config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")})});
  rec.apply(c, df);
  const uint32_t a = *rec.real_id(ip("10.1.0.1")), b = *rec.real_id(ip("10.1.0.2"));
  EXPECT_EQ(dp.reals[a].encap, DF_ENCAP_IPIP);
  const int writes = dp.writes;
  c.vips[0].reals[0].encap = Encap::gue;
  ReconcileReport r = rec.apply(c, df);
  EXPECT_EQ(r.reals_reencapsulated, 1u);
  EXPECT_EQ(r.reals_added + r.reals_removed + r.rings_written + r.vips_changed, 0u);
  EXPECT_EQ(dp.writes, writes + 1) << "the real's entry, nothing else";
  EXPECT_EQ(*rec.real_id(ip("10.1.0.1")), a);
  EXPECT_EQ(dp.reals[a].encap, DF_ENCAP_GUE);
  EXPECT_EQ(dp.reals[b].encap, DF_ENCAP_IPIP);
  // The balancer's default moves the reals that name none.
  c.encap = Encap::gue;
  EXPECT_EQ(rec.apply(c, df).reals_reencapsulated, 1u);
  EXPECT_EQ(dp.reals[b].encap, DF_ENCAP_GUE);

  Reconciler again{dp, {.ring_grace = std::chrono::milliseconds(0)}};
  again.adopt();
  EXPECT_EQ(again.state().real_encaps.at(ip("10.1.0.1")), Encap::gue);
  EXPECT_EQ(again.apply(c, df).reals_reencapsulated, 0u);
}

TEST_F(ReconcilerTest, FreedRealIdIsReusedLast) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")})}), df);
  uint32_t gone = *rec.real_id(ip("10.1.0.2"));
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1")})}), df);
  EXPECT_FALSE(rec.real_id(ip("10.1.0.2")));
  // Ids 3..7 are still fresh: the freed one waits behind them.
  std::vector<RealConfig> many{real("10.1.0.1")};
  const char* addrs[] = {"10.2.0.1", "10.2.0.2", "10.2.0.3", "10.2.0.4", "10.2.0.5"};
  for (const char* a : addrs) many.push_back(real(a));
  rec.apply(config({vip("10.0.0.1", 80, many)}), df);
  for (const char* a : addrs) EXPECT_NE(*rec.real_id(ip(a)), gone) << a;
  // Now only the freed id is left.
  many.push_back(real("10.3.0.1"));
  rec.apply(config({vip("10.0.0.1", 80, many)}), df);
  EXPECT_EQ(*rec.real_id(ip("10.3.0.1")), gone);
}

TEST_F(ReconcilerTest, VipIdsStableAndFreedIdsReused) {
  rec.apply(config({vip("10.0.0.1", 80, {}), vip("10.0.0.2", 80, {}), vip("10.0.0.3", 80, {})}),
            df);
  uint32_t id2 = meta("10.0.0.2", 80).vip_id, id3 = meta("10.0.0.3", 80).vip_id;
  rec.apply(config({vip("10.0.0.3", 80, {}), vip("10.0.0.2", 80, {})}), df);
  EXPECT_EQ(meta("10.0.0.2", 80).vip_id, id2);
  EXPECT_EQ(meta("10.0.0.3", 80).vip_id, id3);
  EXPECT_EQ(dp.vips.size(), 2u);
  rec.apply(config({vip("10.0.0.3", 80, {}), vip("10.0.0.2", 80, {}), vip("10.0.0.9", 80, {})}),
            df);
  std::set<uint32_t> ids;
  for (const auto& [k, m] : dp.vips) ids.insert(m.vip_id);
  EXPECT_EQ(ids, (std::set<uint32_t>{0, 1, 2}));
}

TEST_F(ReconcilerTest, DrainKeepsRealOutOfRing) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")})}), df);
  uint32_t b = *rec.real_id(ip("10.1.0.2"));
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2", 0)})}), df);
  EXPECT_EQ(dp.reals[b].family, DF_FAMILY_V4);  // existing flows still reach it
  EXPECT_EQ(ring_ids(meta("10.0.0.1", 80).ring_slot).count(b), 0u);
}

TEST_F(ReconcilerTest, DeletedRealIsClearedAndVipRemoved) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")}),
                    vip("10.0.0.2", 80, {real("10.1.0.2")})}),
            df);
  uint32_t b = *rec.real_id(ip("10.1.0.2"));
  auto r = rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1")})}), df);
  EXPECT_EQ(r.vips_removed, 1u);
  EXPECT_EQ(r.reals_removed, 1u);
  EXPECT_EQ(dp.reals[b].family, 0);
  EXPECT_EQ(dp.vips.size(), 1u);
  EXPECT_EQ(dp.vip_addrs.size(), 1u);
  EXPECT_EQ(dp.vip_addrs.count(to_df_addr_key(ip("10.0.0.2"))), 0u);
  EXPECT_EQ(ring_ids(meta("10.0.0.1", 80).ring_slot).count(b), 0u);
}

// 10.1.0.1 serves TCP and UDP; `dropped` takes it out of the TCP VIP only.
Config both_serve(bool dropped = false) {
  std::vector<RealConfig> tcp{real("10.1.0.2")};
  if (!dropped) tcp.insert(tcp.begin(), real("10.1.0.1"));
  return config({vip("10.0.0.1", 80, tcp), vip("10.0.0.1", 53, {real("10.1.0.1")}, Proto::udp)});
}

TEST_F(ReconcilerTest, RealTakenOutOfOneVipLosesThatVipsFlowsOnly) {
  rec.apply(both_serve(), df);
  auto gone = remember("10.0.0.1", 80, Proto::tcp, 1000, "10.1.0.1");
  auto other_real = remember("10.0.0.1", 80, Proto::tcp, 1001, "10.1.0.2");
  auto other_vip = remember("10.0.0.1", 53, Proto::udp, 1002, "10.1.0.1");
  uint32_t a = *rec.real_id(ip("10.1.0.1"));
  auto r = rec.apply(both_serve(true), df);
  EXPECT_EQ(dp.reals[a].family, DF_FAMILY_V4) << "the UDP VIP still has it";
  EXPECT_EQ(r.flows_forgotten, 1u);
  EXPECT_FALSE(dp.conns.contains(gone)) << "its TCP flows must re-hash, not keep it";
  EXPECT_TRUE(dp.conns.contains(other_real));
  EXPECT_TRUE(dp.conns.contains(other_vip));
}

TEST_F(ReconcilerTest, DrainAndReweightKeepEveryFlow) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")})}), df);
  remember("10.0.0.1", 80, Proto::tcp, 1000, "10.1.0.1");
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1", 0), real("10.1.0.2", 3)})}), df);
  EXPECT_EQ(dp.conns.size(), 1u);
  EXPECT_EQ(dp.forget_scans, 0) << "no real left a VIP: no walk of the connection table";
}

TEST_F(ReconcilerTest, RemovedVipLosesItsFlows) {
  rec.apply(
      config({vip("10.0.0.1", 80, {real("10.1.0.1")}), vip("10.0.0.2", 80, {real("10.1.0.1")})}),
      df);
  auto gone = remember("10.0.0.2", 80, Proto::tcp, 1000, "10.1.0.1");
  auto kept = remember("10.0.0.1", 80, Proto::tcp, 1000, "10.1.0.1");
  EXPECT_EQ(rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1")})}), df).flows_forgotten, 1u);
  EXPECT_FALSE(dp.conns.contains(gone));
  EXPECT_TRUE(dp.conns.contains(kept));
}

// A flow is remembered under the port it asked; it is the exact VIP's where one has that port,
// the any-port VIP's otherwise.
TEST_F(ReconcilerTest, RealTakenOutOfAnAnyPortVipLosesTheFlowsOfItsPortsOnly) {
  auto with = [](bool both) {
    std::vector<RealConfig> reals = {real("10.1.0.2")};
    if (both) reals.push_back(real("10.1.0.1"));
    return config({vip("10.0.0.1", 80, {real("10.1.0.1")}),
                   vip("10.0.0.1", DF_VIP_ANY_PORT, std::move(reals))});
  };
  rec.apply(with(true), df);
  auto gone = remember("10.0.0.1", 8080, Proto::tcp, 1000, "10.1.0.1");
  auto gone_too = remember("10.0.0.1", 443, Proto::tcp, 1000, "10.1.0.1");
  auto exact = remember("10.0.0.1", 80, Proto::tcp, 1000, "10.1.0.1");
  auto other_real = remember("10.0.0.1", 8080, Proto::tcp, 1001, "10.1.0.2");
  EXPECT_EQ(rec.apply(with(false), df).flows_forgotten, 2u);
  EXPECT_FALSE(dp.conns.contains(gone));
  EXPECT_FALSE(dp.conns.contains(gone_too));
  EXPECT_TRUE(dp.conns.contains(exact)) << "port 80 is the exact VIP's, which keeps the real";
  EXPECT_TRUE(dp.conns.contains(other_real));
}

VipConfig prefix_vip(const char* prefix, uint16_t port, std::vector<RealConfig> reals) {
  const IpPrefix p = *IpPrefix::parse(prefix);
  VipConfig v = vip("0.0.0.0", port, std::move(reals));
  v.address = p.address;
  v.prefix_len = p.length;
  return v;
}

TEST_F(ReconcilerTest, APrefixVipGoesToTheTriesAndLeavesThem) {
  const Config c = config({prefix_vip("10.0.1.0/24", 80, {real("10.1.0.1")}),
                           prefix_vip("10.0.1.0/24", DF_VIP_ANY_PORT, {real("10.1.0.2")}),
                           vip("10.0.1.7", 80, {real("10.1.0.1")})});
  rec.apply(c, df);
  EXPECT_EQ(dp.vips.size(), 1u) << "the address's own VIP";
  ASSERT_EQ(dp.vip_prefixes.size(), 2u);
  const df_prefix_key k80 = to_df_prefix_key(ServiceKey::of(c.vips[0]));
  EXPECT_EQ(k80.prefixlen, DF_PREFIX_HEAD_BITS + 24u);
  EXPECT_EQ(k80.port, htons(80));
  EXPECT_EQ(k80.proto, IPPROTO_TCP);
  EXPECT_EQ(service_key_of(k80), ServiceKey::of(c.vips[0]));
  EXPECT_EQ(dp.vip_prefixes.at(k80).vip_id, rec.state().vips.at(ServiceKey::of(c.vips[0])).vip_id);
  EXPECT_EQ(dp.vip_addrs.size(), 1u);
  ASSERT_EQ(dp.vip_addr_prefixes.size(), 1u) << "one prefix, two VIPs";
  EXPECT_EQ(prefix_of(dp.vip_addr_prefixes.begin()->first), *IpPrefix::parse("10.0.1.0/24"));
  EXPECT_EQ(dp.vip_addr_prefixes.begin()->first.port, 0) << "the address set: no port";

  rec.apply(config({c.vips[1], c.vips[2]}), df);
  EXPECT_EQ(dp.vip_prefixes.size(), 1u);
  EXPECT_EQ(dp.vip_addr_prefixes.size(), 1u) << "the any-port VIP still lives on the prefix";
  rec.apply(config({c.vips[2]}), df);
  EXPECT_TRUE(dp.vip_prefixes.empty());
  EXPECT_TRUE(dp.vip_addr_prefixes.empty());
  EXPECT_EQ(dp.vip_addrs.size(), 1u);
}

// The ECMP contract: balancers built from one configuration have the same rings, byte for byte,
// prefix VIPs' as every other's (a flow that changes balancer keeps its real).
TEST_F(ReconcilerTest, APrefixVipsRingIsTheSameOnEveryBalancerOfOneConfig) {
  const Config c = config({vip("10.0.1.7", 80, {real("10.1.0.1"), real("10.1.0.2")}),
                           prefix_vip("10.0.1.0/24", 80, {real("10.1.0.3", 2), real("10.1.0.2")}),
                           prefix_vip("fd00:1::/64", 0, {real("fd00:9::1"), real("fd00:9::2")})});
  FakeDataPlane other_dp;
  Reconciler other{other_dp, {.ring_grace = std::chrono::milliseconds(0)}};
  rec.apply(c, df);
  other.apply(c, df);
  for (const VipConfig& v : c.vips) {
    const ServiceKey k = ServiceKey::of(v);
    EXPECT_EQ(dp.rings.at(rec.state().vips.at(k).ring),
              other_dp.rings.at(other.state().vips.at(k).ring))
        << vip_name(v);
  }
  EXPECT_EQ(dp.vip_prefixes.size(), 2u);
  for (const auto& [key, meta] : dp.vip_prefixes)
    EXPECT_EQ(std::memcmp(&other_dp.vip_prefixes.at(key), &meta, sizeof(meta)), 0);
}

TEST_F(ReconcilerTest, AdoptReadsPrefixVipsBackAndSweepsAStalePrefix) {
  const Config c = config({prefix_vip("10.0.1.0/24", 80, {real("10.1.0.1")}),
                           prefix_vip("fd00:1::/64", 53, {real("fd00:9::1")})});
  rec.apply(c, df);
  const uint32_t id = dp.vip_prefixes.at(to_df_prefix_key(ServiceKey::of(c.vips[1]))).vip_id;
  dp.put_vip_addr_prefix(to_df_addr_prefix_key(*IpPrefix::parse("10.0.2.0/24")));
  Reconciler again{dp, {.ring_grace = std::chrono::milliseconds(0)}};
  again.adopt();
  ASSERT_EQ(again.state().vips.size(), 2u);
  EXPECT_EQ(again.state().vips.at(ServiceKey::of(c.vips[1])).vip_id, id);
  EXPECT_EQ(dp.vip_addr_prefixes.size(), 2u) << "the stale prefix is gone";
  EXPECT_FALSE(
      dp.vip_addr_prefixes.contains(to_df_addr_prefix_key(*IpPrefix::parse("10.0.2.0/24"))));
  again.apply(config({c.vips[0]}), df);
  EXPECT_EQ(dp.vip_prefixes.size(), 1u);
  EXPECT_EQ(dp.vip_addr_prefixes.size(), 1u);
}

// A flow is the VIP the program looked it up as: its address's own VIP before any prefix, a
// prefix with its port before one of every port, the longest prefix first.
TEST_F(ReconcilerTest, RealTakenOutOfAPrefixVipLosesTheFlowsThatPrefixVipOwns) {
  auto with = [](bool both) {
    std::vector<RealConfig> reals = {real("10.1.0.2")};
    if (both) reals.push_back(real("10.1.0.1"));
    return config({prefix_vip("10.0.1.0/24", 80, std::move(reals)),
                   prefix_vip("10.0.0.0/16", 80, {real("10.1.0.1")}),
                   prefix_vip("10.0.1.0/28", DF_VIP_ANY_PORT, {real("10.1.0.1")}),
                   vip("10.0.1.7", 80, {real("10.1.0.1")})});
  };
  rec.apply(with(true), df);
  struct Flow {
    const char* address;
    uint16_t port, client_port;
    const char* real;
    bool forgotten;
    const char* why;
  };
  const Flow flows[] = {
      {"10.0.1.99", 80, 1000, "10.1.0.1", true, "the /24's on port 80"},
      {"10.0.1.3", 80, 1000, "10.1.0.1", true, "the /24 on port 80 before the /28 of every port"},
      {"10.0.1.7", 80, 1000, "10.1.0.1", false, "10.0.1.7:80 has a VIP of its own"},
      {"10.0.9.9", 80, 1000, "10.1.0.1", false, "the /16's, which keeps the real"},
      {"10.0.1.3", 22, 1000, "10.1.0.1", false, "the /28's, which keeps the real"},
      {"10.0.1.99", 80, 1001, "10.1.0.2", false, "on a real the /24 keeps"}};
  std::vector<df_flow_key> keys;
  for (const Flow& f : flows)
    keys.push_back(remember(f.address, f.port, Proto::tcp, f.client_port, f.real));
  EXPECT_EQ(rec.apply(with(false), df).flows_forgotten, 2u);
  for (std::size_t i = 0; i < keys.size(); i++)
    EXPECT_EQ(dp.conns.contains(keys[i]), !flows[i].forgotten) << flows[i].why;
}

TEST_F(ReconcilerTest, AdoptedVipLosesFlowsOfRealsTheNewConfigDropped) {
  rec.apply(both_serve(), df);
  auto gone = remember("10.0.0.1", 80, Proto::tcp, 1000, "10.1.0.1");
  auto kept = remember("10.0.0.1", 80, Proto::tcp, 1001, "10.1.0.2");
  Reconciler again{dp, {.ring_grace = std::chrono::milliseconds(0)}};
  again.adopt();
  again.apply(both_serve(true), df);
  EXPECT_FALSE(dp.conns.contains(gone));
  EXPECT_TRUE(dp.conns.contains(kept));
}

TEST_F(ReconcilerTest, VipAddressRefcounted) {
  rec.apply(config({vip("10.0.0.1", 80, {}), vip("10.0.0.1", 443, {})}), df);
  rec.apply(config({vip("10.0.0.1", 443, {})}), df);
  EXPECT_EQ(dp.vip_addrs.size(), 1u);
  rec.apply(config({}), df);
  EXPECT_TRUE(dp.vip_addrs.empty());
  EXPECT_TRUE(dp.vips.empty());
}

// The rules of a Config (duplicates, families, weights) are validate_config's: its tests are in
// config_validation_test. The reconciler checks the data plane's sizes only.
TEST_F(ReconcilerTest, ConfigOverTheDataPlanesLimitsChangesNothing) {
  Config good = config({vip("10.0.0.1", 80, {real("10.1.0.1")})});
  rec.apply(good, df);
  AppliedState before = rec.state();
  int writes = dp.writes;
  std::vector<Config> bad;
  bad.push_back(config({vip("10.0.0.1", 80, {}), vip("10.0.0.2", 80, {}), vip("10.0.0.3", 80, {}),
                        vip("10.0.0.4", 80, {}), vip("10.0.0.5", 80, {})}));  // > max_vips
  std::vector<RealConfig> many;
  for (int i = 1; i <= 8; i++) many.push_back(real(("10.9.0." + std::to_string(i)).c_str()));
  bad.push_back(config({vip("10.0.0.1", 80, many)}));  // > max_reals - 1
  Config ring = good;
  ring.ring_size = 17;
  bad.push_back(ring);
  for (const Config& c : bad) {
    df_config other{};
    other.max_pkt_size = 1;
    EXPECT_THROW(rec.apply(c, other), Error);
  }
  EXPECT_EQ(dp.writes, writes);
  EXPECT_EQ(rec.state().vips.size(), before.vips.size());
  EXPECT_EQ(rec.state().real_ids, before.real_ids);
  EXPECT_EQ(rec.state().next_fresh_real_id, before.next_fresh_real_id);
}

TEST_F(ReconcilerTest, ConfigWrittenOnlyWhenChanged) {
  Config c = config({});
  rec.apply(c, df);
  int writes = dp.writes;
  rec.apply(c, df);
  EXPECT_EQ(dp.writes, writes);
  df_config gw{};
  gw.gateway_set = 1;
  gw.gateway_mac[5] = 9;
  rec.apply(c, gw);
  EXPECT_EQ(dp.config().gateway_set, 1);
  EXPECT_EQ(dp.config().gateway_mac[5], 9);
}

TEST_F(ReconcilerTest, Ipv6VipWithIpv6Reals) {
  rec.apply(config({vip("fd00::1", 80, {real("fd00:1::1"), real("fd00:1::2")})}), df);
  uint32_t a = *rec.real_id(ip("fd00:1::1"));
  EXPECT_EQ(dp.reals[a].family, DF_FAMILY_V6);
  EXPECT_EQ(meta("fd00::1", 80).vip_id, 0u);
}

TEST(ReconcilerGrace, ARingJustRetiredIsNotRewrittenAtOnce) {
  FakeDataPlane dp;
  Reconciler rec{dp, {.ring_grace = std::chrono::milliseconds(50)}};
  auto c = [](uint32_t weight) {
    return config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2", weight)})});
  };
  rec.apply(c(1), {});
  rec.apply(c(2), {});  // writes the other ring: never read yet, no wait
  auto start = std::chrono::steady_clock::now();
  rec.apply(c(3), {});  // the first ring again, retired just now: waits out the grace
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));
  EXPECT_EQ(dp.ring_writes, (std::vector<uint32_t>{0, 1, 0}));
}

TEST_F(ReconcilerTest, AdoptKeepsIdsFlipsRingsAndDropsStale) {
  // A first daemon, with a history that made ids differ from a fresh start's.
  rec.apply(config({vip("10.0.0.9", 80, {real("10.1.0.9")}),
                    vip("10.0.0.1", 80, {real("10.1.0.5"), real("10.1.0.1")})}),
            df);
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.5"), real("10.1.0.1")}),
                    vip("10.0.0.2", 80, {real("10.1.0.1")})}),
            df);
  uint32_t id5 = *rec.real_id(ip("10.1.0.5")), id1 = *rec.real_id(ip("10.1.0.1"));
  uint32_t vip1 = meta("10.0.0.1", 80).vip_id, slot1 = meta("10.0.0.1", 80).ring_slot;
  std::vector<uint32_t> ring1 = dp.rings.at(slot1);

  // A restarted one adopts the maps; its configuration dropped 10.0.0.2. An address
  // whose VIP vanished with the old daemon (a crash between the two writes) is swept.
  dp.put_vip_addr(to_df_addr_key(ip("10.0.0.77")));
  Reconciler again{dp, {.ring_grace = std::chrono::milliseconds(0)}};
  again.adopt();
  EXPECT_EQ(again.state().vips.size(), 2u);
  EXPECT_EQ(dp.vip_addrs.size(), 2u) << "the stale address is gone, the two live ones stay";
  EXPECT_FALSE(dp.vip_addrs.contains(to_df_addr_key(ip("10.0.0.77"))));
  dp.ring_writes.clear();
  again.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.5")})}), df);
  EXPECT_EQ(*again.real_id(ip("10.1.0.5")), id5);
  EXPECT_EQ(*again.real_id(ip("10.1.0.1")), id1);
  EXPECT_EQ(meta("10.0.0.1", 80).vip_id, vip1);
  EXPECT_NE(meta("10.0.0.1", 80).ring_slot, slot1);  // rebuilt into the inactive ring
  EXPECT_EQ(dp.ring_writes, std::vector<uint32_t>{meta("10.0.0.1", 80).ring_slot});
  EXPECT_EQ(dp.rings.at(meta("10.0.0.1", 80).ring_slot), ring1);  // and it is the same ring
  EXPECT_EQ(dp.vips.size(), 1u);
  EXPECT_EQ(dp.vip_addrs.size(), 1u);
  // A newcomer gets an id no adopted real has.
  again.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.5"), real("10.1.0.7")})}),
              df);
  EXPECT_GT(*again.real_id(ip("10.1.0.7")), std::max(id1, id5));
}

// A failed write (issue 17): the reconciler must not trust what it believes is in the maps.

// Checks that the data plane serves exactly `c`: its VIPs, flags and addresses, each VIP's
// published ring as Maglev builds it from the reals' ids, each id naming its real, no other
// real configured, and no remembered flow of a VIP on a real that VIP no longer has.
void expect_serves(const FakeDataPlane& dp, const Reconciler& rec, const Config& c,
                   const std::string& context) {
  SCOPED_TRACE(context);
  std::set<std::uint32_t> configured;
  std::set<IpAddress> addresses;
  ASSERT_EQ(dp.vips.size(), c.vips.size());
  for (const VipConfig& v : c.vips) {
    auto it = dp.vips.find(to_df_key(ServiceKey::of(v)));
    ASSERT_NE(it, dp.vips.end()) << vip_name(v);
    EXPECT_EQ(it->second.flags, v.flags);
    std::vector<MaglevReal> input;
    std::set<std::uint32_t> ids;
    for (const RealConfig& r : v.reals) {
      std::uint32_t id = *rec.real_id(r.address);
      EXPECT_EQ(address_of(dp.reals.at(id)), r.address);
      input.push_back({.address = r.address, .weight = r.weight, .id = id});
      configured.insert(id);
      ids.insert(id);
    }
    EXPECT_EQ(dp.rings.at(it->second.ring_slot), Maglev(c.ring_size).build(input)) << vip_name(v);
    addresses.insert(v.address);
    for (const auto& [flow, conn] : dp.conns) {
      if (std::memcmp(&flow.vip, &it->first, sizeof(flow.vip)) != 0) continue;
      EXPECT_TRUE(ids.contains(conn.real_id))
          << "a flow of " << vip_name(v) << " on real " << conn.real_id;
    }
  }
  for (const auto& [id, real] : dp.read_reals()) EXPECT_TRUE(configured.contains(id)) << id;
  std::set<IpAddress> in_map;
  for (const df_vip_addr_key& k : dp.read_vip_addrs()) in_map.insert(address_of(k));
  EXPECT_EQ(in_map, addresses);
}

Config before_failure() {
  Config c = config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2", 2)}),
                     vip("10.0.0.2", 53, {real("10.1.0.2"), real("10.1.0.3")}, Proto::udp)});
  c.vips[1].flags = DF_VIP_NO_CONN_TABLE;
  return c;
}

Config after_failure() {
  Config c = config({vip("10.0.0.1", 80, {real("10.1.0.1", 3), real("10.1.0.4")}),
                     vip("10.0.0.3", 443, {real("10.1.0.4"), real("fd00:1::5")})});
  c.vips[0].flags = DF_VIP_SRC_HASH_ONLY;
  return c;
}

TEST(ReconcilerWriteFailure, EveryFailedWriteIsFollowedByAnApplyThatConverges) {
  ReconcilerOptions opts{.ring_grace = std::chrono::milliseconds(0)};
  int total;
  {
    FakeDataPlane dp;
    Reconciler rec(dp, opts);
    rec.apply(before_failure(), {});
    int start = dp.writes;
    rec.apply(after_failure(), {});
    total = dp.writes - start;
  }
  ASSERT_GT(total, 10);
  for (int n = 1; n <= total; n++) {
    for (bool back : {false, true}) {
      FakeDataPlane dp;
      Reconciler rec(dp, opts);
      rec.apply(before_failure(), {});
      df_flow_key flow{};
      flow.vip = to_df_key({ip("10.0.0.1"), 80, Proto::tcp});
      dp.conns[flow] = {.real_id = *rec.real_id(ip("10.1.0.2")), .atime = 0};
      dp.fail_write = dp.writes + n;
      EXPECT_THROW(rec.apply(after_failure(), {}), OsError) << "write " << n;
      EXPECT_TRUE(rec.state_unknown());
      dp.fail_write = 0;
      // Then to where it was going, or back to where it came from: both must hold.
      Config target = back ? before_failure() : after_failure();
      ReconcileReport r = rec.apply(target, {});
      EXPECT_TRUE(r.resynced);
      EXPECT_FALSE(rec.state_unknown());
      std::string context = "write " + std::to_string(n) + (back ? ", back" : ", on");
      expect_serves(dp, rec, target, context);
      int writes = dp.writes;
      rec.apply(target, {});
      EXPECT_EQ(dp.writes, writes) << context << ": a second apply still had work";
    }
  }
}

TEST_F(ReconcilerTest, WhenThePoolIsFullRingsFlipBeforeAnIdIsRewritten) {
  std::vector<RealConfig> seven;
  for (int i = 1; i <= 7; i++) seven.push_back(real(("10.1.0." + std::to_string(i)).c_str()));
  rec.apply(config({vip("10.0.0.1", 80, seven), vip("10.0.0.2", 80, {seven[6]})}), df);
  uint32_t last = *rec.real_id(ip("10.1.0.7"));
  int checked = 0;
  dp.before_real_written = [&](uint32_t id) {
    for (const auto& [key, m] : dp.vips)
      EXPECT_EQ(std::count(dp.rings.at(m.ring_slot).begin(), dp.rings.at(m.ring_slot).end(), id), 0)
          << "real id " << id << " rewritten while a published ring names it";
    checked++;
  };
  seven[6] = real("10.1.0.8");  // 10.1.0.7 leaves, 10.1.0.8 needs its id: none other is left
  Config next = config({vip("10.0.0.1", 80, seven), vip("10.0.0.2", 80, {seven[6]})});
  rec.apply(next, df);
  EXPECT_EQ(checked, 1);
  EXPECT_EQ(*rec.real_id(ip("10.1.0.8")), last);
  expect_serves(dp, rec, next, "after");
}

TEST_F(ReconcilerTest, ARestartedReconcilerDoesNotReuseAJustFreedId) {
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")})}), df);
  uint32_t gone = *rec.real_id(ip("10.1.0.2"));
  rec.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1")})}), df);
  Reconciler again{dp, {.ring_grace = std::chrono::milliseconds(0)}};
  again.adopt();
  again.apply(config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.3")})}), df);
  EXPECT_NE(*again.real_id(ip("10.1.0.3")), gone);
}

TEST(ReconcilerQuarantine, AnIdIsReusedEarlyOnlyWhenNoOtherIsLeft) {
  FakeDataPlane dp({.ring_size = 13, .max_vips = 4, .max_reals = 4});  // ids 1..3
  auto now = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  Reconciler rec(dp, {.ring_grace = std::chrono::milliseconds(0),
                      .id_quarantine = std::chrono::minutes(5),
                      .now = [&] { return now; }});
  auto cfg = [](std::vector<RealConfig> reals) {
    Config c = config({vip("10.0.0.1", 80, std::move(reals))});
    c.max_reals = 4;
    return c;
  };
  rec.apply(cfg({real("10.1.0.1"), real("10.1.0.2"), real("10.1.0.3")}), {});
  uint32_t b = *rec.real_id(ip("10.1.0.2"));
  rec.apply(cfg({real("10.1.0.1"), real("10.1.0.3")}), {});
  EXPECT_EQ(dp.freed_at.at(b),
            std::uint64_t(std::chrono::nanoseconds(std::chrono::hours(1)).count()));
  now += std::chrono::minutes(1);
  ReconcileReport early =
      rec.apply(cfg({real("10.1.0.1"), real("10.1.0.3"), real("10.1.0.4")}), {});
  EXPECT_EQ(*rec.real_id(ip("10.1.0.4")), b);
  EXPECT_EQ(early.ids_reused_early, 1u);
  EXPECT_FALSE(dp.freed_at.contains(b));

  uint32_t c = *rec.real_id(ip("10.1.0.3"));
  rec.apply(cfg({real("10.1.0.1"), real("10.1.0.4")}), {});
  now += std::chrono::minutes(6);
  Reconciler again(dp, {.ring_grace = std::chrono::milliseconds(0), .now = [&] { return now; }});
  again.adopt();  // the quarantine's start comes back from the data plane
  ReconcileReport late =
      again.apply(cfg({real("10.1.0.1"), real("10.1.0.4"), real("10.1.0.5")}), {});
  EXPECT_EQ(*again.real_id(ip("10.1.0.5")), c);
  EXPECT_EQ(late.ids_reused_early, 0u);
}

}  // namespace
}  // namespace dogfish
