#include "dogfish/controller.hpp"

#include <arpa/inet.h>
#include <dogfish/flow_hash.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "dogfish/base/errors.hpp"
#include "dogfish/control_socket.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/flow_query.hpp"
#include "fake_data_plane.hpp"

namespace dogfish {
namespace {

using nlohmann::json;

constexpr const char* kConfig = R"(
interface: eth0
gateway: 02:00:00:00:00:01
ring_size: 13
max_vips: 4
max_reals: 8
vips:
  - address: 10.0.0.1
    port: 80
    proto: tcp
    reals:
      - { address: 10.1.0.1 }
      - { address: 10.1.0.2, weight: 2 }
)";

class ControllerTest : public ::testing::Test {
 protected:
  FakeDataPlane dp;
  Reconciler rec{dp, {.ring_grace = std::chrono::milliseconds(0)}};
  std::string file_text = kConfig;
  Controller ctl{rec, dp, [](const Config& c) { return make_df_config(c); },
                 [this] { return parse_config(file_text, "test.yaml"); }};

  void SetUp() override { ctl.apply(parse_config(kConfig, "test.yaml")); }

  json ok(const json& request) {
    json r = ctl.handle(request);
    EXPECT_FALSE(r.contains("error")) << r.dump();
    return r;
  }
  std::string error(const json& request) {
    int writes = dp.writes;
    Config before = ctl.config();
    json r = ctl.handle(request);
    EXPECT_EQ(dp.writes, writes) << "a failed request wrote to the data plane";
    EXPECT_EQ(ctl.config(), before) << "a failed request changed the config";
    return r.value("error", "");
  }
};

TEST_F(ControllerTest, VipAddListDel) {
  ok({{"cmd", "vip_add"}, {"vip", "[fd00::1]:53"}, {"proto", "udp"}, {"flags", {"no_conn_table"}}});
  json list = ok({{"cmd", "vip_list"}});
  ASSERT_EQ(list["vips"].size(), 2u);
  EXPECT_EQ(list["vips"][1]["vip"], "[fd00::1]:53/udp");
  EXPECT_EQ(list["vips"][1]["flags"], json({"no_conn_table"}));
  EXPECT_EQ(dp.vips.size(), 2u);
  ok({{"cmd", "vip_del"}, {"vip", "[fd00::1]:53"}, {"proto", "udp"}});
  EXPECT_EQ(dp.vips.size(), 1u);
}

TEST_F(ControllerTest, AnyPortVipIsAddedEditedAndListedByName) {
  ok({{"cmd", "vip_add"}, {"vip", "10.0.0.1:*/tcp"}, {"flags", {"dport_hash_only"}}});
  json list = ok({{"cmd", "vip_list"}});
  ASSERT_EQ(list["vips"].size(), 2u);
  EXPECT_EQ(list["vips"][1]["vip"], "10.0.0.1:*/tcp");
  EXPECT_EQ(list["vips"][1]["port"], 0);
  EXPECT_EQ(list["vips"][1]["flags"], json({"dport_hash_only"}));
  ok({{"cmd", "vip_edit"}, {"vip", "10.0.0.1:*"}, {"flags", {"no_src_port_hash"}}});
  list = ok({{"cmd", "vip_list"}});
  EXPECT_EQ(list["vips"][1]["flags"], json({"no_src_port_hash"}));
  ok({{"cmd", "vip_edit"}, {"vip", "10.0.0.1:80/tcp"}, {"flags", json::array()}});
  EXPECT_EQ(ok({{"cmd", "vip_list"}})["vips"][0]["flags"], json::array());
  EXPECT_EQ(error({{"cmd", "vip_edit"},
                   {"vip", "10.0.0.1:80"},
                   {"flags", {"src_hash_only", "no_src_port_hash"}}}),
            "VIP 10.0.0.1:80/tcp: src_hash_only and no_src_port_hash each choose what the ring "
            "hashes: give one");
  EXPECT_EQ(error({{"cmd", "vip_edit"}, {"vip", "10.0.0.1:80"}}), "missing \"flags\"");
  EXPECT_EQ(error({{"cmd", "vip_edit"}, {"vip", "10.0.0.9:*"}, {"flags", json::array()}}),
            "unknown VIP 10.0.0.9:*/tcp");
  EXPECT_EQ(
      error({{"cmd", "vip_add"}, {"vip", "10.0.0.1:0"}}),
      "'10.0.0.1:0' is not ADDRESS:PORT or ADDRESS:PORT/PROTO (IPv6 as [ADDRESS]:PORT; PORT "
      "1-65535, or * for every port; ADDRESS/LENGTH for a prefix VIP, as in 10.100.1.0/24:80/tcp)");
  EXPECT_EQ(dp.vips.size(), 2u);
}

TEST_F(ControllerTest, PrefixVipIsAddedListedAndDeletedByName) {
  ok({{"cmd", "vip_add"}, {"vip", "10.0.1.0/24:*/tcp"}, {"flags", {"dport_hash_only"}}});
  ok({{"cmd", "vip_add"}, {"vip", "[fd00:1::/120]:53"}, {"proto", "udp"}});
  ok({{"cmd", "real_add"}, {"vip", "10.0.1.0/24:*/tcp"}, {"real", "10.1.0.3"}});
  json list = ok({{"cmd", "vip_list"}});
  ASSERT_EQ(list["vips"].size(), 3u);
  EXPECT_EQ(list["vips"][0]["prefix_len"], nullptr);
  EXPECT_EQ(list["vips"][1]["vip"], "10.0.1.0/24:*/tcp");
  EXPECT_EQ(list["vips"][1]["address"], "10.0.1.0");
  EXPECT_EQ(list["vips"][1]["prefix_len"], 24);
  EXPECT_EQ(list["vips"][1]["port"], 0);
  EXPECT_EQ(list["vips"][1]["reals"][0]["address"], "10.1.0.3");
  EXPECT_EQ(list["vips"][2]["vip"], "[fd00:1::/120]:53/udp");
  EXPECT_EQ(dp.vip_prefixes.size(), 2u);
  EXPECT_EQ(dp.vips.size(), 1u);
  EXPECT_EQ(ok({{"cmd", "ring"}, {"vip", "10.0.1.0/24:*/tcp"}})["reals"][0]["slots"], 13);
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "10.0.1.0/24:*/tcp"}}),
            "VIP 10.0.1.0/24:*/tcp already exists");
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "10.0.1.1/24:80/tcp"}}),
            "VIP 10.0.1.1/24:80/tcp: 10.0.1.1/24 has bits set past the prefix length (the prefix "
            "is 10.0.1.0/24)");
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "[fd00:1::5/128]:80/tcp"}}),
            "VIP [fd00:1::5/128]:80/tcp: fd00:1::5/128: a prefix VIP's length is 1-127 for IPv6 "
            "(an address alone takes none: fd00:1::5)");
  EXPECT_EQ(error({{"cmd", "vip_del"}, {"vip", "10.0.1.0/25:*/tcp"}}),
            "unknown VIP 10.0.1.0/25:*/tcp");
  ok({{"cmd", "vip_del"}, {"vip", "10.0.1.0/24:*"}});
  ok({{"cmd", "vip_del"}, {"vip", "[fd00:1::/120]:53/udp"}});
  EXPECT_TRUE(dp.vip_prefixes.empty());
  EXPECT_TRUE(dp.vip_addr_prefixes.empty());
}

TEST_F(ControllerTest, BadRequestsChangeNothing) {
  EXPECT_EQ(error({{"cmd", "vip_del"}, {"vip", "10.0.0.9:80"}}), "unknown VIP 10.0.0.9:80/tcp");
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "10.0.0.1:80"}}),
            "VIP 10.0.0.1:80/tcp already exists");
  EXPECT_EQ(
      error({{"cmd", "vip_add"}, {"vip", "10.0.0.1"}}),
      "'10.0.0.1' is not ADDRESS:PORT or ADDRESS:PORT/PROTO (IPv6 as [ADDRESS]:PORT; PORT "
      "1-65535, or * for every port; ADDRESS/LENGTH for a prefix VIP, as in 10.100.1.0/24:80/tcp)");
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "10.0.0.1:80/sctp"}}),
            "'10.0.0.1:80/sctp': 'sctp' is not a protocol (tcp, udp)");
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "10.0.0.1:80/udp"}, {"proto", "tcp"}}),
            "'10.0.0.1:80/udp' says udp, --proto says tcp");
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "10.0.0.2:80"}, {"proto", "sctp"}}),
            "'sctp' is not a protocol (tcp, udp)");
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "10.0.0.2:80"}, {"flags", {"fast"}}}),
            "'fast' is not a VIP flag (no_conn_table, src_hash_only, no_src_port_hash, "
            "dport_hash_only)");
  EXPECT_EQ(error({{"cmd", "real_add"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.1"}}),
            "real 10.1.0.1 is already in VIP 10.0.0.1:80/tcp (weight 1; use `real edit`)");
  EXPECT_EQ(error({{"cmd", "real_add"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0"}}),
            "'10.1.0' is not an IP address");
  EXPECT_EQ(error({{"cmd", "real_del"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.9"}}),
            "real 10.1.0.9 is not in VIP 10.0.0.1:80/tcp");
  EXPECT_EQ(
      error({{"cmd", "real_add"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.3"}, {"weight", -1}}),
      "weight must be an integer in 0..65535");
  EXPECT_EQ(
      error({{"cmd", "real_add"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.3"}, {"weight", 70000}}),
      "weight of real 10.1.0.3 in VIP 10.0.0.1:80/tcp: 70000 is out of range (0-65535)");
  EXPECT_EQ(error({{"cmd", "frobnicate"}}), "unknown command 'frobnicate'");
  EXPECT_EQ(ctl.handle_line("{nope")["error"], "the request is not JSON");
  // Over the limit: five VIPs with max_vips 4.
  for (int i = 2; i <= 4; i++) ok({{"cmd", "vip_add"}, {"vip", fmt::format("10.0.0.{}:80", i)}});
  EXPECT_EQ(error({{"cmd", "vip_add"}, {"vip", "10.0.0.5:80"}}), "5 VIPs, more than max_vips (4)");
}

TEST_F(ControllerTest, IPv4RealBehindIPv6VipRefused) {
  ok({{"cmd", "vip_add"}, {"vip", "[fd00::1]:80"}});
  EXPECT_EQ(error({{"cmd", "real_add"}, {"vip", "[fd00::1]:80"}, {"real", "10.1.0.3"}}),
            "IPv4 real 10.1.0.3 behind IPv6 VIP fd00::1 (the data plane cannot send IPv6 in IPv4)");
  ok({{"cmd", "real_add"}, {"vip", "[fd00::1]:80"}, {"real", "fd00:1::3"}});
}

TEST_F(ControllerTest, RealAddEditDelGoThroughReconciler) {
  dp.ring_writes.clear();
  ok({{"cmd", "real_add"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.3"}, {"weight", 3}});
  EXPECT_EQ(dp.ring_writes.size(), 1u);
  json reals = ok({{"cmd", "real_list"}, {"vip", "10.0.0.1:80"}})["reals"];
  ASSERT_EQ(reals.size(), 3u);
  EXPECT_EQ(reals[2]["address"], "10.1.0.3");
  EXPECT_EQ(reals[2]["weight"], 3);
  uint32_t id = reals[2]["id"];
  ok({{"cmd", "real_edit"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.3"}, {"weight", 0}});
  EXPECT_EQ(dp.reals[id].family, DF_FAMILY_V4);  // drained, not gone
  ok({{"cmd", "real_del"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.3"}});
  EXPECT_EQ(dp.reals[id].family, 0);
  EXPECT_EQ(error({{"cmd", "real_list"}, {"vip", "10.0.0.2:80"}}), "unknown VIP 10.0.0.2:80/tcp");
}

// A real added with --encap has it in every VIP; added without, it takes the one it has.
TEST_F(ControllerTest, RealAddNamesTheEncapsulationOnceForEveryVip) {
  ok({{"cmd", "vip_add"}, {"vip", "10.0.0.1:53/udp"}});
  ok({{"cmd", "real_add"}, {"vip", "10.0.0.1:53/udp"}, {"real", "10.1.0.3"}, {"encap", "gue"}});
  const uint32_t id = *rec.real_id(*IpAddress::parse("10.1.0.3"));
  EXPECT_EQ(dp.reals[id].encap, DF_ENCAP_GUE);
  ok({{"cmd", "real_add"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.3"}});
  for (const json& r : ok({{"cmd", "real_list"}})["reals"])
    EXPECT_EQ(r["encap"], r["address"] == "10.1.0.3" ? "gue" : "ipip") << r.dump();
  for (const json& r : ok({{"cmd", "vip_list"}})["vips"][0]["reals"])
    EXPECT_EQ(r["encap"], r["address"] == "10.1.0.3" ? "gue" : "ipip") << r.dump();
  EXPECT_EQ(error({{"cmd", "real_add"},
                   {"vip", "10.0.0.1:53/udp"},
                   {"real", "10.1.0.1"},
                   {"encap", "vxlan"}}),
            "'vxlan' is not an encapsulation (ipip, gue)");
  ok({{"cmd", "vip_add"}, {"vip", "10.0.0.2:80"}});
  EXPECT_EQ(
      error({{"cmd", "real_add"}, {"vip", "10.0.0.2:80"}, {"real", "10.1.0.3"}, {"encap", "ipip"}}),
      "real 10.1.0.3 is ipip here and gue in vips[1].reals[0]: a real has one "
      "encapsulation");
}

TEST_F(ControllerTest, ReloadFromFileAndBadReloadKeepsState) {
  ok({{"cmd", "vip_add"}, {"vip", "10.0.0.7:80"}});
  file_text = std::string(kConfig) + "  - { address: 10.0.0.8, port: 443, proto: tcp }\n";
  json r = ok({{"cmd", "reload"}});
  EXPECT_EQ(r["vips_added"], 1);
  EXPECT_EQ(r["vips_removed"], 1);  // the file is the truth: runtime additions go
  file_text = "interface: eth0\ngateway: 10.0.0.1\nvips: [ {address: nope} ]\n";
  int writes = dp.writes;
  std::string e = ctl.handle({{"cmd", "reload"}})["error"];
  EXPECT_EQ(e.rfind("test.yaml:3:", 0), 0u) << e;
  EXPECT_EQ(dp.writes, writes);
  EXPECT_EQ(ok({{"cmd", "vip_list"}})["vips"].size(), 2u);
  file_text = std::string(kConfig);
  file_text.replace(file_text.find("eth0"), 4, "eth1");
  EXPECT_EQ(error({{"cmd", "reload"}}),
            "interface changed (eth0 -> eth1): restart the daemon to move it");
}

TEST_F(ControllerTest, StatsNamesEveryReason) {
  json s = ok({{"cmd", "stats"}});
  EXPECT_EQ(s["reasons"].size(), size_t(DF_REASON_MAX));
  EXPECT_EQ(s["reasons"]["tx"], 7);
  EXPECT_TRUE(s["reasons"].contains("drop_no_gateway"));
  EXPECT_EQ(s["vips"].size(), 1u);
  EXPECT_EQ(s["reals"].size(), 2u);
  EXPECT_TRUE(s["conn_table"].contains("hit"));
  EXPECT_TRUE(s["conn_table"].contains("skipped"));
  EXPECT_EQ(s["conn_table"]["capacity_per_cpu"], s["conn_table"]["capacity"]);
}

TEST_F(ControllerTest, StatsGiveEveryVipsRealsTheirOwnCounters) {
  const AppliedState& state = rec.state();
  const AppliedVip& vip = state.vips.begin()->second;
  const RealConfig& first = vip.reals.at(0);
  dp.vip_real_counters[{vip.vip_id, state.real_ids.at(first.address)}] = {5, 500};
  json pairs = ok({{"cmd", "stats"}})["vip_reals"];
  ASSERT_EQ(pairs.size(), vip.reals.size());
  EXPECT_EQ(pairs[0]["vip"], to_string(state.vips.begin()->first));
  EXPECT_EQ(pairs[0]["real"], first.address.to_string());
  EXPECT_EQ(pairs[0]["packets"], 5);
  EXPECT_EQ(pairs[0]["bytes"], 500);
  EXPECT_EQ(pairs[1]["packets"], 0);
}

TEST(ControlSocket, RoundTripAndNoDaemon) {
  std::string dir = fmt::format("/tmp/dogfish-sock-test-{}", getpid());
  std::string path = dir + "/ctl.sock";
  EXPECT_THROW(
      {
        try {
          control_request(path, "{}");
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("is `dogfish run` running?"), std::string::npos);
          throw;
        }
      },
      Error);
  {
    EventLoop loop;
    ControlServer server(path, loop);
    server.start([&](std::string_view l) {
      loop.stop();  // after this answer is written
      return "echo " + std::string(l);
    });
    std::thread t([&] { loop.run(); });
    std::string answer;
    EXPECT_NO_THROW(answer = control_request(path, "{\"cmd\":\"x\"}"));
    t.join();
    EXPECT_EQ(answer, "echo {\"cmd\":\"x\"}");
    EXPECT_THROW(ControlServer again(path, loop), Error);  // a live one answers
  }
  EXPECT_FALSE(std::filesystem::exists(path));  // removed with the server
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dogfish

namespace dogfish {
namespace {

TEST_F(ControllerTest, RingIsTheOnePacketsReadWithSlotsPerReal) {
  json r = ok({{"cmd", "ring"}, {"vip", "10.0.0.1:80"}, {"proto", "tcp"}});
  EXPECT_EQ(r["vip"], "10.0.0.1:80/tcp");
  ASSERT_EQ(r["slots"].size(), 13U);
  EXPECT_EQ(r["size"], 13);
  const auto& ring = dp.rings.at(r["ring"].get<std::uint32_t>());
  EXPECT_EQ(r["slots"].get<std::vector<std::uint32_t>>(), ring);
  ASSERT_EQ(r["reals"].size(), 2U);
  EXPECT_EQ(r["reals"][0]["address"], "10.1.0.1");
  EXPECT_EQ(r["reals"][0]["slots"].get<int>() + r["reals"][1]["slots"].get<int>(), 13);
  EXPECT_EQ(r["digest"].get<std::string>().size(), 16U);
  // A change of the ring changes the digest; the same ring gives the same one.
  json again = ok({{"cmd", "ring"}, {"vip", "10.0.0.1:80"}});
  EXPECT_EQ(again["digest"], r["digest"]);
  ok({{"cmd", "real_edit"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.1"}, {"weight", 3}});
  EXPECT_NE(ok({{"cmd", "ring"}, {"vip", "10.0.0.1:80"}})["digest"], r["digest"]);
  EXPECT_EQ(error({{"cmd", "ring"}, {"vip", "10.0.0.9:80"}}), "unknown VIP 10.0.0.9:80/tcp");
}

TEST_F(ControllerTest, MetricsListenIsKeptOnReload) {
  file_text = std::string(kConfig) + "metrics_listen: 127.0.0.1:9773\n";
  ok({{"cmd", "reload"}});
  EXPECT_EQ(ctl.config().metrics_listen, std::nullopt) << "bound at start: a reload keeps it";
}

TEST_F(ControllerTest, StatsCountAppliesAndReloads) {
  const json before = ok({{"cmd", "stats"}})["control"];
  ok({{"cmd", "reload"}});
  file_text = "interface: eth0\ngateway: 10.0.0.1\nvips: [ {address: nope} ]\n";
  error({{"cmd", "reload"}});
  const json after = ok({{"cmd", "stats"}})["control"];
  EXPECT_EQ(after["reloads"], before["reloads"].get<int>() + 2);
  EXPECT_EQ(after["reload_failures"], before["reload_failures"].get<int>() + 1);
  EXPECT_EQ(after["applies"], before["applies"].get<int>() + 1);
  EXPECT_EQ(after["apply_failures"], before["apply_failures"]);
  EXPECT_GT(after["apply_s"].get<double>(), before["apply_s"].get<double>());
}

TEST_F(ControllerTest, StatsCountRingBuilds) {
  const json before = ok({{"cmd", "stats"}})["control"];
  EXPECT_GE(before["rings_built"].get<int>(), 1) << "the start built the VIP's ring";
  ok({{"cmd", "real_edit"}, {"vip", "10.0.0.1:80"}, {"real", "10.1.0.1"}, {"weight", 3}});
  ok({{"cmd", "reload"}});  // the file's weights again: another ring
  ok({{"cmd", "reload"}});  // nothing changed: no ring
  const json after = ok({{"cmd", "stats"}})["control"];
  EXPECT_EQ(after["rings_built"], before["rings_built"].get<int>() + 2);
  EXPECT_GT(after["ring_build_s"].get<double>(), before["ring_build_s"].get<double>());
}

TEST_F(ControllerTest, AnnounceIsFixedAtStart) {
  file_text = std::string(kConfig) + "announce: {bird_socket: /b.ctl, include: /v.conf}\n";
  EXPECT_EQ(error({{"cmd", "reload"}}), "announce is read at start: restart to change it");
}

// The flow key as the program lays it out for 10.0.0.2:port -> 10.0.0.1:80 over TCP, made by
// hand here so that the controller's own key building is under test.
df_flow_key client_flow(std::uint16_t port, std::uint8_t proto = 6) {
  df_flow_key k{};
  const std::uint8_t vip[4] = {10, 0, 0, 1}, client[4] = {10, 0, 0, 2};
  std::memcpy(k.vip.addr, vip, 4);
  k.vip.port = htons(80);
  k.vip.proto = proto;
  k.vip.family = DF_FAMILY_V4;
  std::memcpy(k.src, client, 4);
  k.sport = htons(port);
  return k;
}

class FlowTest : public ControllerTest {
 protected:
  json flow(std::uint16_t port) {
    return ok({{"cmd", "flow"},
               {"client", fmt::format("10.0.0.2:{}", port)},
               {"vip", "10.0.0.1:80/tcp"}});
  }
  std::uint32_t id_of(const char* real) { return rec.real_id(*IpAddress::parse(real)).value(); }
  std::uint32_t ring() { return rec.state().vips.begin()->second.ring; }
  std::uint32_t ring_of(const char* vip) { return rec.state().vips.at(parse_service(vip)).ring; }

  // Adds `vip` with `flag` and the real 10.1.0.2, and checks that 10.0.0.2:40000's flow to
  // `asked` (key `k`) is that VIP's: its ring, hashed as the flag chooses (`ring_hash`); and that
  // 10.0.0.1:80 stays the exact VIP's.
  void expect_served_by(const char* vip, const char* flag, const char* asked, const df_flow_key& k,
                        std::uint32_t ring_hash) {
    ok({{"cmd", "vip_add"}, {"vip", vip}, {"flags", json::array({flag})}});
    ok({{"cmd", "real_add"}, {"vip", vip}, {"real", "10.1.0.2"}});
    json a = ok({{"cmd", "flow"}, {"client", "10.0.0.2:40000"}, {"vip", asked}});
    EXPECT_EQ(a["ring"], ring_of(vip)) << "the ring of " << vip;
    EXPECT_EQ(a["ring_hash"], ring_hash);
    EXPECT_EQ(a["hash"], df_flow_hash(&k));
    EXPECT_EQ(a["real"], "10.1.0.2");
    EXPECT_EQ(flow(40000)["ring"], ring_of("10.0.0.1:80/tcp")) << "the exact VIP's";
  }
};

TEST_F(FlowTest, AFlowTheTableDoesNotHoldIsAnsweredByTheSlotItsHashPicks) {
  for (std::uint16_t port = 40000; port < 40040; port++) {
    const df_flow_key k = client_flow(port);
    const std::uint32_t hash = df_flow_hash(&k), slot = df_ring_slot(hash, 13);
    const std::uint32_t id = dp.rings.at(ring())[slot];
    json a = flow(port);
    EXPECT_EQ(a["from"], "ring");
    EXPECT_EQ(a["slot"], slot);
    EXPECT_EQ(a["ring"], ring());
    EXPECT_EQ(a["hash"], hash);
    EXPECT_EQ(a["real_id"], id);
    EXPECT_EQ(a["real"], id == id_of("10.1.0.1") ? "10.1.0.1" : "10.1.0.2");
    EXPECT_EQ(a["client"], fmt::format("10.0.0.2:{}", port));
    EXPECT_EQ(a["vip"], "10.0.0.1:80/tcp");
    EXPECT_FALSE(a.contains("stale_real_id"));
  }
}

TEST_F(FlowTest, ATableEntryWinsOverTheRing) {
  const std::uint16_t port = 40000;
  const std::uint32_t by_ring = flow(port)["real_id"];
  const char* other = by_ring == id_of("10.1.0.1") ? "10.1.0.2" : "10.1.0.1";
  dp.conns[client_flow(port)] = {.real_id = id_of(other), .atime = 0, .hash = 0x1234};
  json a = flow(port);
  EXPECT_EQ(a["from"], "table");
  EXPECT_EQ(a["real"], other);
  EXPECT_EQ(a["real_id"], id_of(other));
  EXPECT_EQ(a["hash"], 0x1234) << "the entry's hash, as the program uses it";
  EXPECT_FALSE(a.contains("slot"));
  EXPECT_EQ(flow(port + 1)["from"], "ring") << "another port is another flow";
}

TEST_F(FlowTest, AnEntryWhoseRealIsGoneIsStaleAndTheRingAnswers) {
  dp.conns[client_flow(40000)] = {.real_id = 7, .atime = 0, .hash = 0};
  json a = flow(40000);
  EXPECT_EQ(a["from"], "ring");
  EXPECT_EQ(a["stale_real_id"], 7);
  EXPECT_NE(a["real"], nullptr);
}

TEST_F(FlowTest, AnIdleUdpEntryIsExpiredAndAFreshOneAnswers) {
  file_text = std::string(kConfig) + "  - address: 10.0.0.1\n    port: 80\n    proto: udp\n" +
              "    reals: [{ address: 10.1.0.1 }, { address: 10.1.0.2 }]\n" +
              "udp_idle_timeout: 1\n";
  ok({{"cmd", "reload"}});
  const df_flow_key k = client_flow(53000, 17);
  const std::uint32_t now = conn_table_now_ticks();
  const json request{{"cmd", "flow"}, {"client", "10.0.0.2:53000"}, {"vip", "10.0.0.1:80/udp"}};
  dp.conns[k] = {.real_id = id_of("10.1.0.2"), .atime = now, .hash = 1};
  EXPECT_EQ(ok(request)["from"], "table");
  dp.conns[k].atime = now - seconds_to_ticks(1) - 100;
  json a = ok(request);
  EXPECT_EQ(a["from"], "ring");
  EXPECT_EQ(a["expired"], true);
}

TEST_F(FlowTest, ASourceHashVipHashesTheClientAddressAlone) {
  ok({{"cmd", "vip_add"}, {"vip", "10.0.0.1:443/tcp"}, {"flags", json::array({"src_hash_only"})}});
  ok({{"cmd", "real_add"}, {"vip", "10.0.0.1:443/tcp"}, {"real", "10.1.0.1"}});
  df_flow_key k = client_flow(40000);
  k.vip.port = htons(443);
  for (std::uint16_t port : {40000, 50000, 60000}) {
    json a = ok({{"cmd", "flow"},
                 {"client", fmt::format("10.0.0.2:{}", port)},
                 {"vip", "10.0.0.1:443/tcp"}});
    EXPECT_EQ(a["ring_hash"], df_src_hash(&k));
    EXPECT_EQ(a["slot"], df_ring_slot(df_src_hash(&k), 13));
    EXPECT_EQ(a["real"], "10.1.0.1");
  }
}

TEST_F(FlowTest, AnAddressOnlyAPrefixVipServesIsThatVipsFlow) {
  df_flow_key k = client_flow(40000);
  k.vip.addr[3] = 77;  // 10.0.0.77
  expect_served_by("10.0.0.0/24:80/tcp", "src_hash_only", "10.0.0.77:80/tcp", k, df_src_hash(&k));
  EXPECT_EQ(error({{"cmd", "flow"}, {"client", "10.0.0.2:40000"}, {"vip", "10.0.0.0/24:80/tcp"}}),
            "10.0.0.0/24:80/tcp: name the address the client asks (a flow has one)");
  EXPECT_EQ(error({{"cmd", "flow"}, {"client", "10.0.0.2:40000"}, {"vip", "10.0.1.77:80/tcp"}}),
            "unknown VIP 10.0.1.77:80/tcp");
}

TEST_F(FlowTest, APortOnlyAnAnyPortVipServesIsItsFlowHashedOnItsChoice) {
  df_flow_key k = client_flow(40000);
  k.vip.port = htons(8080);
  expect_served_by("10.0.0.1:*/tcp", "dport_hash_only", "10.0.0.1:8080/tcp", k, df_dport_hash(&k));
  EXPECT_EQ(error({{"cmd", "flow"}, {"client", "10.0.0.2:40000"}, {"vip", "10.0.0.1:*/tcp"}}),
            "10.0.0.1:*/tcp: name the port the client asks (a flow has one)");
  EXPECT_EQ(error({{"cmd", "flow"}, {"client", "10.0.0.2:40000"}, {"vip", "10.0.0.1:8080/udp"}}),
            "unknown VIP 10.0.0.1:8080/udp");
}

TEST_F(FlowTest, ErrorsNameTheValue) {
  auto ask = [&](const char* client, const char* vip) {
    return error({{"cmd", "flow"}, {"client", client}, {"vip", vip}});
  };
  EXPECT_EQ(ask("10.0.0.2:4000", "10.0.0.9:80/tcp"), "unknown VIP 10.0.0.9:80/tcp");
  EXPECT_EQ(ask("10.0.0.2:4000", "10.0.0.1:80/udp"), "unknown VIP 10.0.0.1:80/udp");
  EXPECT_EQ(ask("[fd00::2]:4000", "10.0.0.1:80/tcp"),
            "client [fd00::2]:4000 is IPv6, VIP 10.0.0.1:80/tcp is IPv4");
  EXPECT_EQ(ask("10.0.0.2:0", "10.0.0.1:80"),
            "'10.0.0.2:0' is not a client ADDRESS:PORT (IPv6 as [ADDRESS]:PORT, port 1..65535)");
  EXPECT_EQ(ask("10.0.0.2", "10.0.0.1:80"),
            "'10.0.0.2' is not a client ADDRESS:PORT (IPv6 as [ADDRESS]:PORT, port 1..65535)");
  EXPECT_NE(ask("10.0.0.2:4000", "10.0.0.1").find("'10.0.0.1' is not ADDRESS:PORT"),
            std::string::npos);
  EXPECT_EQ(error({{"cmd", "flow"}, {"vip", "10.0.0.1:80"}}), "missing \"client\"");
}

}  // namespace
}  // namespace dogfish
