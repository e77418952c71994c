// BpfDataPlane against the real program: configuration reaches the maps the
// program reads, a pinned restart adopts the maps, attach/detach work on a veth.
// The process runs in its own network namespace, so every link it makes dies with it.
#include "dogfish/bpf_data_plane.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "support/packet.hpp"
#include "support/pinned_cpu.hpp"

namespace dogfish {
namespace {

using testing_pkt = ::dogfish::testing::Packet;
namespace pkt = ::dogfish::testing;

constexpr uint32_t kRing = 251;

BpfDataPlaneOptions small_options(std::string pin_dir = "") {
  return {.limits = {.ring_size = kRing, .max_vips = 4, .max_reals = 16, .conn_entries = 256},
          .pin_dir = std::move(pin_dir)};
}

df_vip_key vip_key() {
  df_vip_key k{};
  auto a = pkt::ip4("10.100.0.1");
  std::memcpy(k.addr, a.data(), 4);
  k.port = htons(80);
  k.proto = IPPROTO_TCP;
  k.family = DF_FAMILY_V4;
  return k;
}

df_real real4(const char* addr) {
  df_real r{};
  auto a = pkt::ip4(addr);
  std::memcpy(r.addr, a.data(), 4);
  r.family = DF_FAMILY_V4;
  return r;
}

void configure(BpfDataPlane& dp) {
  df_config c{};
  std::memcpy(c.gateway_mac, pkt::mac("02:00:00:00:00:99").data(), 6);
  c.gateway_set = 1;
  c.src4_prefix = htonl(0xac100000);
  c.src4_hostmask = htonl(0x000fffff);
  dp.set_config(c);
  dp.put_real(1, real4("10.200.0.1"));
  dp.put_real(2, real4("10.200.0.2"));
  dp.write_ring(0, std::vector<uint32_t>(kRing, 1));
  dp.put_vip(vip_key(), {.vip_id = 0, .flags = 0, .ring_slot = 0});
}

pkt::Bytes tcp(uint8_t flags, uint16_t sport = 40000) {
  return testing_pkt()
      .eth(pkt::mac("02:00:00:00:00:01"), pkt::mac("02:00:00:00:00:02"))
      .ipv4({.src = "10.0.0.10", .dst = "10.100.0.1"})
      .tcp({.sport = sport, .dport = 80, .flags = flags})
      .bytes();
}

// The real a frame was sent to, or "" when it was not sent.
std::string run(const BpfDataPlane& dp, const pkt::Bytes& frame) {
  pkt::Bytes in = frame, out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = out.data(),
              .data_size_in = (__u32)in.size(), .data_size_out = (__u32)out.size(), .repeat = 1);
  if (bpf_prog_test_run_opts(dp.prog_fd(), &opts) != 0 || opts.retval != XDP_TX) return "";
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &out[30], buf, sizeof buf);
}

class PinnedTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(pin_dir_); }
  std::string pin_dir_ = "/sys/fs/bpf/dogfish-test-" + std::to_string(getpid());
};

TEST(BpfDataPlane, ConfigurationReachesTheProgram) {
  BpfDataPlane dp(small_options());
  configure(dp);
  EXPECT_EQ(run(dp, tcp(pkt::tcp_flags::SYN)), "10.200.0.1");
  EXPECT_EQ(dp.config().gateway_set, 1);
  DataPlaneStats s = dp.stats();
  EXPECT_EQ(s.global.reason[DF_TX], 1u);
  EXPECT_EQ(s.vips[0].packets, 1u);
  EXPECT_EQ(s.reals[1].packets, 1u);
}

TEST(BpfDataPlane, PublishingANewRingIsOneVipWrite) {
  BpfDataPlane dp(small_options());
  configure(dp);
  dp.write_ring(1, std::vector<uint32_t>(kRing, 2));
  EXPECT_EQ(run(dp, tcp(pkt::tcp_flags::SYN)), "10.200.0.1") << "ring 1 not published yet";
  dp.put_vip(vip_key(), {.vip_id = 0, .flags = 0, .ring_slot = 1});
  EXPECT_EQ(run(dp, tcp(pkt::tcp_flags::SYN)), "10.200.0.2");
}

TEST(BpfDataPlane, ForgottenFlowsReHashAndTheOthersKeepTheirReal) {
  BpfDataPlane dp(small_options());
  configure(dp);
  // ACKs: a SYN is never remembered, the flow's next packet is.
  for (uint16_t port = 40000; port < 40010; port++)
    ASSERT_EQ(run(dp, tcp(pkt::tcp_flags::ACK, port)), "10.200.0.1");
  dp.write_ring(1, std::vector<uint32_t>(kRing, 2));
  dp.put_vip(vip_key(), {.vip_id = 0, .flags = 0, .ring_slot = 1});
  auto odd_ports_on_1 = [](const df_flow_key& k, const df_conn& c) {
    return c.real_id == 1 && ntohs(k.sport) % 2 == 1;
  };
  EXPECT_EQ(dp.forget_flows(odd_ports_on_1), 5u);
  for (uint16_t port = 40000; port < 40010; port++)
    EXPECT_EQ(run(dp, tcp(pkt::tcp_flags::ACK, port)), port % 2 ? "10.200.0.2" : "10.200.0.1")
        << "port " << port;
}

TEST(BpfDataPlane, ForgetFlowsWalksATableOfManyBatches) {
  auto options = small_options();
  options.limits.conn_entries = 4096;  // one LRU: this thread may fill all of it
  BpfDataPlane dp(options);
  df_flow_key k{.vip = vip_key()};
  for (uint32_t i = 0; i < 3000; i++) {
    std::memcpy(k.src, &i, sizeof(i));
    df_conn c{.real_id = 1 + i % 2, .atime = 0};
    ASSERT_EQ(bpf_map_update_elem(dp.conn_table_fd(), &k, &c, BPF_NOEXIST), 0) << i;
  }
  auto on_2 = [](const df_flow_key&, const df_conn& c) { return c.real_id == 2; };
  EXPECT_EQ(dp.forget_flows(on_2), 1500u);
  EXPECT_EQ(dp.forget_flows(on_2), 0u);
  EXPECT_EQ(dp.forget_flows([](const df_flow_key&, const df_conn&) { return true; }), 1500u);
}

TEST(BpfDataPlane, RejectsOutOfRangeIdsAndRingsWithTheValueNamed) {
  BpfDataPlane dp(small_options());
  EXPECT_THROW(dp.put_real(0, real4("10.0.0.1")), Error);
  EXPECT_THROW(dp.put_real(16, real4("10.0.0.1")), Error);
  EXPECT_THROW(dp.write_ring(8, std::vector<uint32_t>(kRing, 1)), Error);
  try {
    dp.write_ring(0, std::vector<uint32_t>(7, 1));
    FAIL() << "a short ring was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("7 slots"), std::string::npos) << e.what();
  }
}

TEST_F(PinnedTest, ARestartAdoptsPinnedMapsAndKeepsConnections) {
  {
    BpfDataPlane first(small_options(pin_dir_));
    EXPECT_FALSE(first.adopted());
    configure(first);
    ASSERT_EQ(run(first, tcp(pkt::tcp_flags::ACK)), "10.200.0.1");  // remembered
    first.release();
  }
  BpfDataPlane second(small_options(pin_dir_));
  EXPECT_TRUE(second.adopted());
  EXPECT_EQ(second.config().gateway_set, 1) << "the configuration survives";
  second.write_ring(1, std::vector<uint32_t>(kRing, 2));
  second.put_vip(vip_key(), {.vip_id = 0, .flags = 0, .ring_slot = 1});
  EXPECT_EQ(run(second, tcp(pkt::tcp_flags::ACK)), "10.200.0.1") << "the connection survives";
  EXPECT_EQ(run(second, tcp(pkt::tcp_flags::SYN)), "10.200.0.2");
  EXPECT_EQ(second.stats().global.reason[DF_TX], 3u) << "counters survive too";
  second.unpin();
  EXPECT_FALSE(std::filesystem::exists(pin_dir_ + "/conn_table"));
}

// A restart loads its program and reconciles before it swaps it in; until then the old program
// serves from the maps the new daemon writes, its per-CPU copies of the VIP map included.
TEST_F(PinnedTest, TheProgramStillAttachedSeesItsSuccessorsVipWrites) {
  pkt::PinnedToOneCpu pin;  // the copies are per CPU: the old program's must be warm here
  BpfDataPlane first(small_options(pin_dir_));
  configure(first);
  ASSERT_EQ(run(first, tcp(pkt::tcp_flags::SYN)), "10.200.0.1");
  first.release();
  BpfDataPlane second(small_options(pin_dir_));
  ASSERT_TRUE(second.adopted());
  second.write_ring(1, std::vector<uint32_t>(kRing, 2));
  second.put_vip(vip_key(), {.vip_id = 0, .flags = 0, .ring_slot = 1});
  EXPECT_EQ(run(first, tcp(pkt::tcp_flags::SYN)), "10.200.0.2") << "the VIP's new ring";
  second.delete_vip(vip_key());
  EXPECT_EQ(run(first, tcp(pkt::tcp_flags::SYN)), "") << "the VIP is gone";
}

TEST_F(PinnedTest, AdoptingMapsOfAnotherSizeFailsWithAHint) {
  { BpfDataPlane(small_options(pin_dir_)).release(); }
  BpfDataPlaneOptions other = small_options(pin_dir_);
  other.limits.conn_entries = 512;
  try {
    BpfDataPlane dp(other);
    FAIL() << "maps of another size were adopted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("unpin"), std::string::npos) << e.what();
  }
}

TEST_F(PinnedTest, MapsOfAnotherAbiAreRefusedWithWhatToDo) {
  { BpfDataPlane(small_options(pin_dir_)).release(); }
  ASSERT_EQ(pinned_abi(pin_dir_), this_abi());
  // What an older build left: a stamp of another version in the "abi" pin.
  const int fd = bpf_obj_get((pin_dir_ + "/abi").c_str());
  ASSERT_GE(fd, 0);
  const AbiStamp old{.version = this_abi().version + 1, .layout = 1};
  const uint32_t zero = 0;
  ASSERT_EQ(bpf_map_update_elem(fd, &zero, &old, BPF_ANY), 0);
  close(fd);
  try {
    BpfDataPlane dp(small_options(pin_dir_));
    FAIL() << "maps of another ABI were adopted";
  } catch (const AbiMismatch& e) {
    EXPECT_NE(std::string(e.what()).find("dogfish teardown"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fmt::format("ABI version {}", old.version)),
              std::string::npos)
        << e.what();
  }
  // Without a stamp at all (a build older than the stamps): refused too.
  std::filesystem::remove(pin_dir_ + "/abi");
  EXPECT_THROW(BpfDataPlane(small_options(pin_dir_)), AbiMismatch);
}

uint32_t attached_prog_id(const char* ifname) {
  __u32 id = 0;
  bpf_xdp_query_id(if_nametoindex(ifname), 0, &id);
  return id;
}

class VethTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << "unshare(CLONE_NEWNET): " << std::strerror(errno);
    ASSERT_EQ(std::system("ip link add dfa type veth peer name dfb && ip link set dfa up && "
                          "ip link set dfb up"),
              0);
  }
};

TEST_F(VethTest, ASuccessorOnThePinsReplacesAtomicallyAndOnlyItsOwn) {
  const std::string pins = "/sys/fs/bpf/dogfish-test-veth-" + std::to_string(getpid());
  auto dp = std::make_unique<BpfDataPlane>(small_options(pins));
  EXPECT_EQ(dp->attach("dfa", XdpMode::automatic), XdpMode::native);
  uint32_t first = attached_prog_id("dfa");
  EXPECT_NE(first, 0u);
  {
    BpfDataPlane successor(small_options(pins));
    ASSERT_TRUE(successor.adopted());
    successor.attach("dfa", XdpMode::automatic);
    EXPECT_EQ(attached_prog_id("dfa"), successor.prog_id()) << "the successor replaced it";
    EXPECT_NE(successor.prog_id(), first);
    dp.reset();  // the predecessor's detach must not remove its successor
    EXPECT_EQ(attached_prog_id("dfa"), successor.prog_id());
    successor.unpin();
  }
  EXPECT_EQ(attached_prog_id("dfa"), 0u) << "destroyed without release: detached";
}

TEST_F(VethTest, AForeignProgramIsRefusedByNameUnlessReplacingIsAsked) {
  BpfDataPlane foreign(small_options());  // no shared pins: not this data plane's maps
  foreign.attach("dfa", XdpMode::automatic);
  BpfDataPlane dp(small_options());
  try {
    dp.attach("dfa", XdpMode::automatic);
    FAIL() << "a foreign program was replaced";
  } catch (const XdpBusy& e) {
    EXPECT_EQ(e.there().id, foreign.prog_id());
    EXPECT_NE(std::string(e.what()).find("'balancer' (id "), std::string::npos) << e.what();
  }
  EXPECT_EQ(attached_prog_id("dfa"), foreign.prog_id()) << "left as it was";
  dp.attach("dfa", XdpMode::automatic, /*replace_foreign=*/true);
  EXPECT_EQ(attached_prog_id("dfa"), dp.prog_id());
}

TEST_F(VethTest, AttachesGenericWhenAsked) {
  BpfDataPlane dp(small_options());
  EXPECT_EQ(dp.attach("dfb", XdpMode::generic), XdpMode::generic);
  EXPECT_NE(attached_prog_id("dfb"), 0u);
  dp.detach();
  EXPECT_EQ(attached_prog_id("dfb"), 0u);
}

TEST_F(VethTest, UnknownInterfaceIsNamed) {
  BpfDataPlane dp(small_options());
  try {
    dp.attach("nosuch0", XdpMode::automatic);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("nosuch0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dogfish
