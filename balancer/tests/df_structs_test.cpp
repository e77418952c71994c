#include "dogfish/df_structs.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

namespace dogfish {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(DfStructs, DataPlaneConfig) {
  Config c{.interface = "eth0",
           .gateway = *MacAddress::parse("02:00:00:00:00:01"),
           .conn_table_insert_rate = 5000,
           .udp_idle_timeout_s = 60,
           .max_packet_size = 1540};
  df_config d = make_df_config(c);
  EXPECT_EQ(d.gateway_set, 1);
  const std::uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
  EXPECT_EQ(std::memcmp(d.gateway_mac, mac, 6), 0);
  EXPECT_EQ(d.max_pkt_size, 1540U);
  // The default prefixes: 172.16.0.0/12 and fd00:df::/96.
  EXPECT_EQ(ntohl(d.src4_prefix), 0xac100000U);
  EXPECT_EQ(ntohl(d.src4_hostmask), 0x000fffffU);
  const std::uint8_t p6[16] = {0xfd, 0x00, 0x00, 0xdf};
  EXPECT_EQ(std::memcmp(d.src6_prefix, p6, 16), 0);
  EXPECT_EQ(d.src6_hostmask, 0xffffffffU);
  // 60 s / 2^24 ns = 3576.28 ticks, rounded up.
  EXPECT_EQ(d.udp_idle_ticks, 3577U);
  EXPECT_EQ(d.conn_insert_rate, 5000U);
  EXPECT_EQ(ntohs(d.gue_port), DF_DEFAULT_GUE_PORT) << "in network order";
  EXPECT_EQ(seconds_to_ticks(0), 0U);

  Config gw_ip{
      .interface = "lo", .gateway = ip("10.0.0.1"), .src4_prefix = *IpPrefix::parse("10.9.9.0/24")};
  d = make_df_config(gw_ip);
  EXPECT_EQ(d.gateway_set, 0);
  EXPECT_EQ(ntohl(d.src4_hostmask), 0xffU);
  EXPECT_EQ(ntohl(d.src4_prefix), 0x0a090900U);
  set_gateway_mac(d, *MacAddress::parse("02:00:00:00:00:09"));
  EXPECT_EQ(d.gateway_set, 1);
  EXPECT_EQ(d.gateway_mac[5], 9);
}

TEST(DfStructs, MaxPacketSizeAutoIsLeftToTheDaemon) {
  Config c{.interface = "eth0", .gateway = ip("10.0.0.1")};
  EXPECT_EQ(make_df_config(c).max_pkt_size, 0u) << "auto: the daemon fills in the MTU";
  c.max_packet_size = 0;
  EXPECT_EQ(make_df_config(c).max_pkt_size, 0u);
  c.max_packet_size = 9000;
  EXPECT_EQ(make_df_config(c).max_pkt_size, 9000u);
}

TEST(DfStructs, IcmpSwitchesTurnIntoIcmpOff) {
  Config c{.interface = "eth0", .gateway = ip("10.0.0.1")};
  EXPECT_EQ(make_df_config(c).icmp_off, 0);
  c.icmp_echo = false;
  EXPECT_EQ(make_df_config(c).icmp_off, DF_ICMP_NO_ECHO);
  c.icmp_errors_to_reals = false;
  EXPECT_EQ(make_df_config(c).icmp_off, DF_ICMP_NO_ECHO | DF_ICMP_NO_ERRORS);
  c.icmp_echo = true;
  EXPECT_EQ(make_df_config(c).icmp_off, DF_ICMP_NO_ERRORS);
}

TEST(DfStructs, VipKeyInNetworkOrderAndBack) {
  for (const ServiceKey& key :
       {ServiceKey{ip("10.0.0.1"), 80, Proto::tcp}, ServiceKey{ip("fd00::1"), 53, Proto::udp}}) {
    df_vip_key k = to_df_key(key);
    EXPECT_EQ(k.port, htons(key.port));
    EXPECT_EQ(k.proto, key.proto == Proto::tcp ? IPPROTO_TCP : IPPROTO_UDP);
    EXPECT_EQ(k.family, key.address.family);
    EXPECT_EQ(std::memcmp(k.addr, key.address.bytes.data(), sizeof(k.addr)), 0);
    EXPECT_EQ(service_key_of(k), key);
  }
}

TEST(DfStructs, AddressesAndBack) {
  for (const char* text : {"10.1.0.1", "fd00:1::2"}) {
    EXPECT_EQ(address_of(to_df_real(ip(text), Encap::ipip)), ip(text));
    EXPECT_EQ(address_of(to_df_addr_key(ip(text))), ip(text));
  }
  df_real v4 = to_df_real(ip("10.1.0.1"), Encap::ipip);
  EXPECT_EQ(v4.family, DF_FAMILY_V4);
  EXPECT_EQ(v4.encap, DF_ENCAP_IPIP);
  df_real gue = to_df_real(ip("fd00:1::2"), Encap::gue);
  EXPECT_EQ(gue.encap, DF_ENCAP_GUE);
  EXPECT_EQ(encap_of(gue), Encap::gue);
  const std::uint8_t bytes[16] = {10, 1, 0, 1};  // the rest stays zero
  EXPECT_EQ(std::memcmp(v4.addr, bytes, sizeof(bytes)), 0);
}

}  // namespace
}  // namespace dogfish
