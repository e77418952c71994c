// Health checks: the rise/fall state machine, the monitor with a fake prober
// driving the controller and the fake data plane, and the socket prober on the
// loopback.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <set>
#include <thread>

#include "config_error.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/config_validation.hpp"
#include "dogfish/controller.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/health_monitor.hpp"
#include "dogfish/health_prober.hpp"
#include "fake_data_plane.hpp"
#include "fake_prober.hpp"

namespace dogfish {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// --- the state machine -----------------------------------------------------------------

TEST(HealthState, StartsUpAndFallsAfterFallFailuresInARow) {
  HealthState s;
  EXPECT_TRUE(s.up());
  EXPECT_FALSE(s.observe(false, 2, 3));
  EXPECT_FALSE(s.observe(false, 2, 3));
  EXPECT_TRUE(s.observe(false, 2, 3));
  EXPECT_FALSE(s.up());
}

TEST(HealthState, RisesAfterRisePassesInARow) {
  HealthState s;
  s.observe(false, 2, 1);
  ASSERT_FALSE(s.up());
  EXPECT_FALSE(s.observe(true, 2, 1));
  EXPECT_TRUE(s.observe(true, 2, 1));
  EXPECT_TRUE(s.up());
}

TEST(HealthState, FlappingFasterThanRiseAndFallNeverMoves) {
  HealthState s;
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(s.observe(i % 2 == 0, 2, 2)) << "result " << i;
    EXPECT_TRUE(s.up());
  }
  s.observe(false, 2, 2);
  s.observe(false, 2, 2);
  ASSERT_FALSE(s.up());
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(s.observe(i % 2 == 0, 2, 2)) << "result " << i;
  EXPECT_FALSE(s.up());
}

// --- configuration ---------------------------------------------------------------------

constexpr const char* kHead = R"(interface: eth0
gateway: 02:00:00:00:00:01
vips:
  - address: 10.0.0.1
    port: 80
    proto: tcp
)";

std::string with_vip_lines(const std::string& lines) { return kHead + lines; }

TEST(HealthConfig, VipCheckAndRealOverride) {
  Config c = parse_config(
      with_vip_lines(
          R"(    health: {type: http, path: /ping, status: 204, interval: 500ms, timeout: 200ms, rise: 1, fall: 4}
    reals:
      - {address: 10.1.0.1}
      - {address: 10.1.0.2, health: {port: 8080, interval: 2}}
)"),
      "t.yaml");
  const VipConfig& v = c.vips.at(0);
  EXPECT_EQ(v.health.type, HealthType::http);
  EXPECT_EQ(v.health.path, "/ping");
  EXPECT_EQ(v.health.status, 204u);
  EXPECT_EQ(v.health.interval_ms, 500u);
  EXPECT_EQ(v.health.timeout_ms, 200u);
  EXPECT_EQ(v.health.rise, 1u);
  EXPECT_EQ(v.health.fall, 4u);
  EXPECT_FALSE(v.reals[0].health);
  EXPECT_EQ(&health_of(v, v.reals[0]), &v.health);
  const HealthCheck& over = health_of(v, v.reals[1]);
  EXPECT_EQ(over.port, 8080);
  EXPECT_EQ(over.interval_ms, 2000u);
  EXPECT_EQ(over.path, "/ping") << "keys the real leaves out come from the VIP";
}

TEST(HealthConfig, DefaultIsNoCheck) {
  Config c = parse_config(with_vip_lines("    reals: [{address: 10.1.0.1}]\n"), "t.yaml");
  EXPECT_EQ(c.vips[0].health.type, HealthType::none);
}

TEST(HealthConfig, ProbesGoThroughTheVipUnlessToldTheRealsOwnAddress) {
  Config c = parse_config(with_vip_lines(R"(    health: {type: tcp}
    reals:
      - {address: 10.1.0.1}
      - {address: 10.1.0.2, health: {via: real}}
)"),
                          "t.yaml");
  const VipConfig& v = c.vips.at(0);
  EXPECT_EQ(v.health.via, HealthVia::vip);
  EXPECT_EQ(health_of(v, v.reals[0]).via, HealthVia::vip);
  EXPECT_EQ(health_of(v, v.reals[1]).via, HealthVia::real);
  EXPECT_EQ(health_of(v, v.reals[1]).type, HealthType::tcp);
}

struct BadHealth {
  const char* name;
  std::string vip_lines;
  std::string error;  // what the message must contain
};

class HealthConfigError : public ::testing::TestWithParam<BadHealth> {};

TEST_P(HealthConfigError, NamesLineAndValue) {
  EXPECT_NE(config_error(with_vip_lines(GetParam().vip_lines), "t.yaml").find(GetParam().error),
            std::string::npos)
      << config_error(with_vip_lines(GetParam().vip_lines), "t.yaml");
}

INSTANTIATE_TEST_SUITE_P(
    All, HealthConfigError,
    ::testing::Values(
        BadHealth{"UnknownType", "    health: {type: icmp}\n",
                  "t.yaml:7: vips[0].health.type: 'icmp' is not a health check type (none, tcp, "
                  "http, udp)"},
        BadHealth{"UnknownVia", "    health: {type: tcp, via: tunnel}\n",
                  "t.yaml:7: vips[0].health.via: 'tunnel' is not where probes go (vip, real)"},
        BadHealth{"UnknownKey", "    health: {type: tcp, intervall: 1s}\n",
                  "t.yaml:7: vips[0].health"},
        BadHealth{"BadDuration", "    health: {type: tcp, interval: 1h}\n",
                  "t.yaml:7: vips[0].health.interval: '1h' is not a duration"},
        BadHealth{"IntervalTooShort", "    health: {type: tcp, interval: 10ms}\n",
                  "t.yaml:7: vips[0].health.interval: 10 is out of range (100-3600000)"},
        BadHealth{"TimeoutOverInterval", "    health: {type: tcp, interval: 1s, timeout: 2s}\n",
                  "t.yaml:7: vips[0].health.timeout: 2000 is out of range (1-1000)"},
        BadHealth{"RiseZero", "    health: {type: tcp, rise: 0}\n",
                  "vips[0].health.rise: 0 is out of range (1-100)"},
        BadHealth{"PathForTcp", "    health: {type: tcp, path: /x}\n",
                  "vips[0].health.path: 'path' is for http checks, not tcp"},
        BadHealth{"PayloadForHttp", "    health: {type: http, payload: x}\n",
                  "vips[0].health.payload: 'payload' is for udp checks, not http"},
        BadHealth{"PathWithSpace", "    health: {type: http, path: \"/a b\"}\n",
                  "vips[0].health.path: '/a b' is not a request path"},
        BadHealth{"Status", "    health: {type: http, status: 99}\n",
                  "vips[0].health.status: 99 is out of range (100-599)"},
        BadHealth{"RealOverride",
                  "    health: {type: tcp}\n    reals:\n      - {address: 10.1.0.1, health: "
                  "{fall: 0}}\n",
                  "t.yaml:9: vips[0].reals[0].health.fall: 0 is out of range (1-100)"}),
    [](const auto& info) { return std::string(info.param.name); });

// --- the monitor, the controller and the fake data plane --------------------------------

constexpr const char* kChecked = R"(
interface: eth0
gateway: 02:00:00:00:00:01
ring_size: 13  # the fake data plane's
vips:
  - {address: 10.0.0.1, port: 80, proto: tcp,
     health: {type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 2},
     reals: [{address: 10.1.0.1}, {address: 10.1.0.2}]}
  - {address: 10.0.0.1, port: 53, proto: udp, reals: [{address: 10.1.0.1}]}
)";

class HealthControllerTest : public ::testing::Test {
 protected:
  FakeDataPlane dp;
  Reconciler rec{dp, {.ring_grace = std::chrono::milliseconds(0)}};
  HealthMonitor health;
  FakeProber prober;
  std::string file_text = kChecked;
  Controller ctl{rec, dp, [](const Config& c) { return make_df_config(c); },
                 [this] { return parse_config(file_text, "test.yaml"); }, &health};
  HealthClock::time_point t;
  std::set<IpAddress> dead;

  void SetUp() override {
    ctl.apply(parse_config(kChecked, "test.yaml"));
    t = HealthClock::now();
  }

  // One interval: every due probe starts, the dead reals fail, the others pass.
  bool round() {
    t += 1s;
    health.run(prober, t);
    prober.answer([&](const IpAddress& a) { return !dead.contains(a); });
    bool changed = health.run(prober, t + 1ms);
    if (changed) ctl.health_changed();
    return changed;
  }

  std::set<IpAddress> in_ring(std::uint16_t port = 80, Proto proto = Proto::tcp) {
    const df_vip_meta& m = dp.vips.at(to_df_key({ip("10.0.0.1"), port, proto}));
    std::set<IpAddress> out;
    for (std::uint32_t id : dp.rings.at(m.ring_slot))
      for (const auto& [address, rid] : rec.state().real_ids)
        if (rid == id) out.insert(address);
    return out;
  }

  df_flow_key remember(std::uint16_t port, Proto proto, std::uint16_t client_port,
                       const char* real) {
    df_flow_key k{};
    k.vip = to_df_key({ip("10.0.0.1"), port, proto});
    k.sport = htons(client_port);
    dp.conns[k] = {.real_id = *rec.real_id(ip(real)), .atime = 0};
    return k;
  }

  json real_health(const char* vip, const char* real) {
    json r = ctl.handle({{"cmd", "real_list"}});
    for (const json& x : r["reals"])
      if (x["vip"] == vip && x["address"] == real) return x["health"];
    return json();
  }
};

// The real each running probe is marked for, through the data plane's probe slots.
std::map<IpAddress, IpAddress> marked_for(const FakeProber& prober, const FakeDataPlane& dp) {
  std::map<IpAddress, IpAddress> out;
  for (const auto& [id, spec] : prober.running) {
    EXPECT_EQ(spec.mark & DF_PROBE_MARK_MASK, DF_PROBE_MARK) << spec.real.to_string();
    const df_real& r = dp.probe_reals.at(spec.mark & ~DF_PROBE_MARK_MASK);
    IpAddress a{.family = r.family};
    std::memcpy(a.bytes.data(), r.addr, a.size());
    out[spec.real] = a;
  }
  return out;
}

TEST_F(HealthControllerTest, OnlyCheckedRealsAreProbedAtTheVipThroughThem) {
  t += 1s;
  health.run(prober, t);
  ASSERT_EQ(prober.started.size(), 2u) << "the udp VIP has no check";
  std::set<std::string> targets;
  for (const auto& [id, spec] : prober.running) targets.insert(spec.target.to_string());
  EXPECT_EQ(targets, std::set<std::string>{"10.0.0.1:80"});
  EXPECT_EQ(marked_for(prober, dp),
            (std::map<IpAddress, IpAddress>{{ip("10.1.0.1"), ip("10.1.0.1")},
                                            {ip("10.1.0.2"), ip("10.1.0.2")}}));
  EXPECT_EQ(dp.probe_reals.size(), 2u);
}

TEST_F(HealthControllerTest, ViaRealProbesTheRealsOwnAddressUnmarked) {
  file_text = std::string(kChecked).replace(std::string(kChecked).find("type: tcp"), 9,
                                            "type: tcp, via: real");
  ctl.reload();
  t += 1s;
  health.run(prober, t);
  std::set<std::string> targets;
  for (const auto& [id, spec] : prober.running) {
    targets.insert(spec.target.to_string());
    EXPECT_EQ(spec.mark, 0u);
  }
  EXPECT_EQ(targets, (std::set<std::string>{"10.1.0.1:80", "10.1.0.2:80"}));
  EXPECT_TRUE(dp.probe_reals.empty()) << "the slots were let go";
}

// A real down in every VIP leaves the reals map (its id freed), yet its probes still
// reach it through their slot: that is how it comes back.
TEST_F(HealthControllerTest, ARealDownEverywhereKeepsItsProbeSlotAndComesBack) {
  json r = ctl.handle({{"cmd", "vip_del"}, {"vip", "10.0.0.1:53"}, {"proto", "udp"}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  dead = {ip("10.1.0.1")};
  round();
  round();
  ASSERT_EQ(in_ring(), std::set{ip("10.1.0.2")});
  EXPECT_FALSE(rec.real_id(ip("10.1.0.1"))) << "out of every VIP: its real id is freed";
  t += 1s;
  health.run(prober, t);
  EXPECT_EQ(marked_for(prober, dp)[ip("10.1.0.1")], ip("10.1.0.1"));
  dead.clear();
  prober.answer([](const IpAddress&) { return true; });
  health.run(prober, t + 1ms);
  EXPECT_TRUE(round());
  EXPECT_EQ(in_ring(), (std::set{ip("10.1.0.1"), ip("10.1.0.2")}));
}

TEST_F(HealthControllerTest, ProbeSlotsOutliveReloadsAndGoWithTheirReal) {
  const std::map<std::uint32_t, df_real> before = dp.probe_reals;
  ctl.reload();
  EXPECT_EQ(dp.probe_reals.size(), before.size());
  for (const auto& [slot, real] : before)
    EXPECT_EQ(std::memcmp(&dp.probe_reals.at(slot), &real, sizeof real), 0) << slot;
  json r = ctl.handle(
      {{"cmd", "real_del"}, {"vip", "10.0.0.1:80"}, {"proto", "tcp"}, {"real", "10.1.0.1"}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_EQ(dp.probe_reals.size(), 1u) << "10.1.0.1 is probed no more";
  r = ctl.handle(
      {{"cmd", "real_add"}, {"vip", "10.0.0.1:80"}, {"proto", "tcp"}, {"real", "10.1.0.3"}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_EQ(dp.probe_reals.size(), 2u) << "the freed slot is taken again";
}

// Named in the checked VIP only, a real's encapsulation holds in its other VIP while it is down
// in the first, and its probes are encapsulated the same way.
TEST_F(HealthControllerTest, ADownRealKeepsTheEncapsulationItsOtherEntryNamed) {
  const std::string plain = "{address: 10.1.0.1}, {address: 10.1.0.2}";
  file_text = std::string(kChecked).replace(std::string(kChecked).find(plain), plain.size(),
                                            "{address: 10.1.0.1, encap: gue}, {address: 10.1.0.2}");
  ctl.reload();
  const std::uint32_t id = *rec.real_id(ip("10.1.0.1"));
  EXPECT_EQ(dp.reals[id].encap, DF_ENCAP_GUE);
  EXPECT_EQ(dp.reals[*rec.real_id(ip("10.1.0.2"))].encap, DF_ENCAP_IPIP);
  t += 1s;
  health.run(prober, t);
  for (const auto& [slot, real] : dp.probe_reals)
    EXPECT_EQ(real.encap, real.addr[3] == 1 ? DF_ENCAP_GUE : DF_ENCAP_IPIP) << "slot " << slot;
  prober.answer([](const IpAddress&) { return true; });
  health.run(prober, t + 1ms);
  dead = {ip("10.1.0.1")};
  round();
  round();
  ASSERT_EQ(in_ring(), std::set{ip("10.1.0.2")});
  ASSERT_EQ(in_ring(53, Proto::udp), std::set{ip("10.1.0.1")});
  EXPECT_EQ(dp.reals[id].encap, DF_ENCAP_GUE) << "the udp VIP's entry names none";
}

TEST_F(HealthControllerTest, DeadRealLeavesRingAfterFallAndItsFlowsAreForgotten) {
  auto gone = remember(80, Proto::tcp, 1000, "10.1.0.1");
  auto kept = remember(80, Proto::tcp, 1001, "10.1.0.2");
  auto other_vip = remember(53, Proto::udp, 1002, "10.1.0.1");
  dead = {ip("10.1.0.1")};
  EXPECT_FALSE(round()) << "one failure is not fall (2)";
  EXPECT_EQ(in_ring(), (std::set{ip("10.1.0.1"), ip("10.1.0.2")}));
  EXPECT_TRUE(round());
  EXPECT_EQ(in_ring(), std::set{ip("10.1.0.2")});
  EXPECT_FALSE(dp.conns.contains(gone)) << "its clients must re-hash to a live real at once";
  EXPECT_TRUE(dp.conns.contains(kept));
  EXPECT_TRUE(dp.conns.contains(other_vip)) << "the udp VIP does not check it";
  EXPECT_EQ(in_ring(53, Proto::udp), std::set{ip("10.1.0.1")});

  json h = real_health("10.0.0.1:80/tcp", "10.1.0.1");
  EXPECT_EQ(h["state"], "down");
  EXPECT_EQ(h["serving"], false);
  EXPECT_EQ(h["last"], "Connection refused");
  EXPECT_EQ(real_health("10.0.0.1:80/tcp", "10.1.0.2")["state"], "up");
  EXPECT_EQ(real_health("10.0.0.1:53/udp", "10.1.0.1")["state"], "unchecked");
}

TEST_F(HealthControllerTest, RealComesBackAfterRise) {
  dead = {ip("10.1.0.1")};
  round();
  round();
  ASSERT_EQ(in_ring(), std::set{ip("10.1.0.2")});
  dead.clear();
  EXPECT_FALSE(round()) << "one pass is not rise (2)";
  EXPECT_EQ(in_ring(), std::set{ip("10.1.0.2")});
  EXPECT_TRUE(round());
  EXPECT_EQ(in_ring(), (std::set{ip("10.1.0.1"), ip("10.1.0.2")}));
  EXPECT_EQ(real_health("10.0.0.1:80/tcp", "10.1.0.1")["state"], "up");
  json s = ctl.handle({{"cmd", "stats"}})["health"];
  EXPECT_EQ(s["went_down"], 1);
  EXPECT_EQ(s["went_up"], 1);
  EXPECT_EQ(s["probes"], 8);
  EXPECT_EQ(s["failed"], 2);
}

TEST_F(HealthControllerTest, FlappingRealStaysInRing) {
  for (int i = 0; i < 10; ++i) {
    dead = i % 2 ? std::set<IpAddress>{} : std::set{ip("10.1.0.1")};
    EXPECT_FALSE(round());
  }
  EXPECT_EQ(in_ring(), (std::set{ip("10.1.0.1"), ip("10.1.0.2")}));
}

TEST_F(HealthControllerTest, AllDownFailsOpenVisibly) {
  dead = {ip("10.1.0.1"), ip("10.1.0.2")};
  round();
  round();
  EXPECT_EQ(in_ring(), (std::set{ip("10.1.0.1"), ip("10.1.0.2")})) << "fail open";
  json vips = ctl.handle({{"cmd", "vip_list"}})["vips"];
  EXPECT_EQ(vips[0]["health"]["all_down"], true);
  EXPECT_EQ(vips[0]["health"]["fail_open"], true);
  EXPECT_EQ(real_health("10.0.0.1:80/tcp", "10.1.0.1")["serving"], true);
  dead = {ip("10.1.0.1")};
  round();
  round();
  EXPECT_EQ(in_ring(), std::set{ip("10.1.0.2")}) << "one is back: the dead one goes";
  EXPECT_EQ(ctl.handle({{"cmd", "vip_list"}})["vips"][0]["health"]["all_down"], false);
}

TEST_F(HealthControllerTest, CliChangeDoesNotBringDownRealBack) {
  dead = {ip("10.1.0.1")};
  round();
  round();
  json r = ctl.handle({{"cmd", "real_edit"},
                       {"vip", "10.0.0.1:80"},
                       {"proto", "tcp"},
                       {"real", "10.1.0.1"},
                       {"weight", 3}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  EXPECT_EQ(in_ring(), std::set{ip("10.1.0.2")});
  EXPECT_EQ(real_health("10.0.0.1:80/tcp", "10.1.0.1")["state"], "down");
  dead.clear();
  round();
  round();
  EXPECT_EQ(in_ring(), (std::set{ip("10.1.0.1"), ip("10.1.0.2")}));
  EXPECT_EQ(ctl.config().vips[0].reals[0].weight, 3u) << "health never undoes the CLI";
}

TEST_F(HealthControllerTest, ReloadKeepsStateOfUnchangedChecksAndRestartsChangedOnes) {
  dead = {ip("10.1.0.1"), ip("10.1.0.2")};
  round();
  dead = {ip("10.1.0.1")};
  round();
  ASSERT_EQ(in_ring(), std::set{ip("10.1.0.2")});
  ctl.reload();  // the same file
  EXPECT_EQ(in_ring(), std::set{ip("10.1.0.2")});
  EXPECT_EQ(real_health("10.0.0.1:80/tcp", "10.1.0.1")["state"], "down");
  EXPECT_EQ(real_health("10.0.0.1:80/tcp", "10.1.0.2")["streak"], 0)
      << "a reload must not reset a streak either";

  file_text = std::string(kChecked).replace(std::string(kChecked).find("fall: 2"), 7, "fall: 3");
  ctl.reload();
  EXPECT_EQ(real_health("10.0.0.1:80/tcp", "10.1.0.1")["state"], "up") << "a new check starts up";
  EXPECT_EQ(in_ring(), (std::set{ip("10.1.0.1"), ip("10.1.0.2")}));
}

TEST_F(HealthControllerTest, LateResultOfARemovedRealIsIgnored) {
  t += 1s;
  health.run(prober, t);
  ASSERT_EQ(prober.running.size(), 2u);
  json r = ctl.handle(
      {{"cmd", "real_del"}, {"vip", "10.0.0.1:80"}, {"proto", "tcp"}, {"real", "10.1.0.1"}});
  ASSERT_FALSE(r.contains("error")) << r.dump();
  prober.answer([](const IpAddress&) { return false; });
  EXPECT_FALSE(health.run(prober, t + 1ms));
  EXPECT_EQ(ctl.handle({{"cmd", "stats"}})["health"]["failed"], 1) << "only 10.1.0.2's counts";
}

TEST(HealthMonitor, ProbesAreSpreadOverTheInterval) {
  Config c{.interface = "eth0"};
  VipConfig v{.address = ip("10.0.0.1"), .port = 80, .health = {.type = HealthType::tcp}};
  for (int i = 0; i < 1000; ++i)
    v.reals.push_back({.address = ip(fmt::format("10.{}.{}.1", i / 200, i % 200).c_str())});
  c.vips.push_back(v);
  HealthMonitor m;
  FakeProber p;
  const auto t0 = HealthClock::now();
  m.sync(c, t0);
  std::array<int, 10> per_100ms{};
  for (auto t = t0; t < t0 + 1s; t += 1ms) {
    const std::size_t before = p.started.size();
    m.run(p, t);
    per_100ms[(t - t0) / 100ms] += static_cast<int>(p.started.size() - before);
  }
  EXPECT_EQ(p.started.size(), 1000u) << "each real once an interval";
  for (int n : per_100ms) {
    EXPECT_GT(n, 50) << "no tenth of the interval nearly empty";
    EXPECT_LT(n, 150) << "no burst";
  }
}

// --- the socket prober on the loopback -------------------------------------------------

class SocketProberTest : public ::testing::Test {
 public:
  SocketProber prober;
  std::uint64_t last_id_ = 0;

  // Waits (bounded) for `count` probe results; by id.
  std::map<std::uint64_t, ProbeResult> finished(std::size_t count) {
    std::map<std::uint64_t, ProbeResult> out;
    const auto deadline = HealthClock::now() + 5s;
    while (out.size() < count && HealthClock::now() < deadline) {
      pollfd p{prober.fd(), POLLIN, 0};
      poll(&p, 1, 10);
      for (auto& r : prober.collect(HealthClock::now())) out[r.id] = std::move(r);
    }
    return out;
  }

  // One probe, to its end.
  ProbeResult probe(const ProbeSpec& spec) {
    prober.start(++last_id_, spec, HealthClock::now());
    auto done = finished(1);
    return done.empty() ? ProbeResult{.detail = "no result"} : done.begin()->second;
  }

  static std::pair<UniqueFd, std::uint16_t> bound(int type) {
    UniqueFd fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
    sockaddr_in a{.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
    if (type == SOCK_STREAM) listen(fd.get(), 16);
    return {std::move(fd), ntohs(a.sin_port)};
  }

  static ProbeSpec spec(HealthType type, std::uint16_t port,
                        std::chrono::milliseconds timeout = 2s) {
    return {.type = type, .target = {ip("127.0.0.1"), port}, .timeout = timeout};
  }
};

TEST_F(SocketProberTest, TcpPassesOnListenerAndFailsOnClosedPort) {
  auto [listener, port] = bound(SOCK_STREAM);
  auto [closed, closed_port] = bound(SOCK_DGRAM);  // a port no TCP socket listens on
  prober.start(1, spec(HealthType::tcp, port), HealthClock::now());
  prober.start(2, spec(HealthType::tcp, closed_port), HealthClock::now());
  auto by_id = finished(2);
  ASSERT_EQ(by_id.size(), 2u);
  EXPECT_TRUE(by_id[1].passed) << by_id[1].detail;
  EXPECT_FALSE(by_id[2].passed);
  EXPECT_EQ(by_id[2].detail, "Connection refused");
}

TEST_F(SocketProberTest, AHungRealDelaysNoOtherProbe) {
  auto [silent, silent_port] = bound(SOCK_DGRAM);
  auto [listener, port] = bound(SOCK_STREAM);
  prober.start(1, spec(HealthType::udp, silent_port, 60s), HealthClock::now());
  prober.start(2, spec(HealthType::tcp, port), HealthClock::now());
  auto first = finished(1);
  EXPECT_TRUE(first.contains(2)) << "the answered probe waits for nothing";
  EXPECT_FALSE(first.contains(1));
  ASSERT_TRUE(prober.next_deadline());
  EXPECT_GT(*prober.next_deadline(), HealthClock::now() + 50s) << "the hung one still runs";
}

TEST_F(SocketProberTest, HttpChecksTheStatus) {
  auto [listener, port] = bound(SOCK_STREAM);
  std::thread server([fd = listener.get()] {
    for (const char* answer : {"HTTP/1.0 200 OK\r\n\r\n", "HTTP/1.0 503 Busy\r\n\r\n"}) {
      UniqueFd c(accept(fd, nullptr, nullptr));
      char buf[512];
      recv(c.get(), buf, sizeof buf, 0);
      send(c.get(), answer, strlen(answer), MSG_NOSIGNAL);
    }
  });
  ProbeResult first = probe(spec(HealthType::http, port));
  ProbeResult second = probe(spec(HealthType::http, port));
  server.join();
  EXPECT_TRUE(first.passed) << first.detail;
  EXPECT_FALSE(second.passed);
  EXPECT_EQ(second.detail, "status 503");
}

TEST_F(SocketProberTest, UdpSilenceTimesOutAndClosedPortIsRefused) {
  auto [silent, port] = bound(SOCK_DGRAM);
  auto [gone, gone_port] = bound(SOCK_DGRAM);
  gone.reset();  // nothing there now: the kernel answers port unreachable
  prober.start(1, spec(HealthType::udp, port, 50ms), HealthClock::now());
  prober.start(2, spec(HealthType::udp, gone_port), HealthClock::now());
  auto by_id = finished(2);
  ASSERT_EQ(by_id.size(), 2u);
  EXPECT_FALSE(by_id[1].passed);
  EXPECT_EQ(by_id[1].detail, "timed out after 50 ms");
  EXPECT_FALSE(by_id[2].passed);
  EXPECT_EQ(by_id[2].detail, "Connection refused");
}

// A marked probe (via a VIP) carries its mark and leaves by the prober's device.
TEST(SocketProberMark, MarkedProbesAreBoundToTheDevice) {
  auto [listener, port] = SocketProberTest::bound(SOCK_STREAM);
  ProbeSpec marked = {.type = HealthType::tcp,
                      .target = {ip("127.0.0.1"), port},
                      .mark = DF_PROBE_MARK | 1,
                      .timeout = 2s};
  SocketProber nowhere("dogfish-none0");
  nowhere.start(1, marked, HealthClock::now());
  auto results = nowhere.collect(HealthClock::now());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].passed);
  EXPECT_EQ(results[0].detail, "No such device");

  SocketProber on_lo("lo");
  on_lo.start(2, marked, HealthClock::now());
  std::vector<ProbeResult> done;
  for (auto deadline = HealthClock::now() + 5s; done.empty() && HealthClock::now() < deadline;) {
    pollfd p{on_lo.fd(), POLLIN, 0};
    poll(&p, 1, 10);
    done = on_lo.collect(HealthClock::now());
  }
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].passed) << done[0].detail;
}

TEST_F(SocketProberTest, UdpReplyMustStartWithExpect) {
  auto [echo, port] = bound(SOCK_DGRAM);
  std::thread server([fd = echo.get()] {
    for (int i = 0; i < 2; ++i) {
      char buf[512];
      sockaddr_in peer{};
      socklen_t len = sizeof peer;
      ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&peer), &len);
      sendto(fd, "real1\n", 6, 0, reinterpret_cast<sockaddr*>(&peer), len);
      (void)n;
    }
  });
  ProbeSpec good = spec(HealthType::udp, port);
  good.payload = "ping";
  good.expect = "real1";
  ProbeSpec bad = good;
  bad.expect = "real2";
  ProbeResult first = probe(good);
  ProbeResult second = probe(bad);
  server.join();
  EXPECT_TRUE(first.passed) << first.detail;
  EXPECT_FALSE(second.passed);
  EXPECT_EQ(second.detail, "unexpected reply");
}

}  // namespace
}  // namespace dogfish
