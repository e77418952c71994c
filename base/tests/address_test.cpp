#include "dogfish/base/address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

#include "dogfish/base/socket_address.hpp"

namespace dogfish {
namespace {

TEST(IpAddress, ParsesAndPrints) {
  auto v4 = IpAddress::parse("10.0.0.1");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->bytes[0], 10);
  EXPECT_EQ(v4->bytes[3], 1);
  EXPECT_EQ(v4->bytes[4], 0);
  EXPECT_EQ(v4->to_string(), "10.0.0.1");
  auto v6 = IpAddress::parse("fd00:df::1");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->to_string(), "fd00:df::1");
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "1.2.3.4.5", "fd00:::1", "host", "10.0.0.1 "})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
}

TEST(IpAddress, OrdersV4BeforeV6) {
  EXPECT_LT(*IpAddress::parse("255.255.255.255"), *IpAddress::parse("::1"));
  EXPECT_LT(*IpAddress::parse("10.0.0.1"), *IpAddress::parse("10.0.0.2"));
}

TEST(IpPrefix, Parses) {
  auto p = IpPrefix::parse("172.16.0.0/12");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->length, 12);
  EXPECT_TRUE(p->host_bits_zero());
  EXPECT_FALSE(IpPrefix::parse("172.16.0.1/12")->host_bits_zero());
  EXPECT_EQ(IpPrefix::parse("fd00:df::/96")->to_string(), "fd00:df::/96");
  for (const char* bad :
       {"172.16.0.0", "172.16.0.0/33", "172.16.0.0/", "172.16.0.0/1x", "::/129", "x/8"})
    EXPECT_FALSE(IpPrefix::parse(bad)) << bad;
}

TEST(IpPrefix, NetworkAndContains) {
  const IpPrefix p = *IpPrefix::parse("10.1.2.3/20");
  EXPECT_EQ(p.network().to_string(), "10.1.0.0/20");
  EXPECT_TRUE(p.contains(*IpAddress::parse("10.1.15.255")));
  EXPECT_FALSE(p.contains(*IpAddress::parse("10.1.16.0")));
  EXPECT_FALSE(p.contains(*IpAddress::parse("::a01:0"))) << "another family";
  const IpPrefix v6 = *IpPrefix::parse("fd00:1::/127");
  EXPECT_TRUE(v6.contains(*IpAddress::parse("fd00:1::1")));
  EXPECT_FALSE(v6.contains(*IpAddress::parse("fd00:1::2")));
  EXPECT_TRUE(IpPrefix::parse("::/0")->contains(*IpAddress::parse("fd00::9")));
}

TEST(MacAddress, Parses) {
  auto mac = MacAddress::parse("02:AB:cd:00:00:01");
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->to_string(), "02:ab:cd:00:00:01");
  EXPECT_EQ(MacAddress::parse("02-ab-cd-00-00-01"), mac);
  for (const char* bad :
       {"02:ab:cd:00:00", "02:ab:cd:00:00:0g", "02:ab-cd:00:00:01", "02ab:cd:00:00:01:"})
    EXPECT_FALSE(MacAddress::parse(bad)) << bad;
}

}  // namespace
TEST(ParseEndpoint, Forms) {
  auto v4 = Endpoint::parse("10.0.0.1:80");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->address.to_string(), "10.0.0.1");
  EXPECT_EQ(v4->port, 80);
  auto v6 = Endpoint::parse("[fd00::1]:443");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->address.is_v6());
  EXPECT_EQ(v6->port, 443);
  for (const char* bad : {"10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "fd00::1:80",
                          "[10.0.0.1]:80", "[fd00::1]80", "10.0.0.300:80", "10.0.0.1:8x", ""})
    EXPECT_FALSE(Endpoint::parse(bad)) << bad;
}

TEST(HostPort, SplitsTextThatIsMoreThanAnAddress) {
  auto v4 = HostPort::split_text("10.1.0.0/24:80");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "10.1.0.0/24");
  EXPECT_EQ(v4->port, "80");
  EXPECT_FALSE(v4->bracketed);
  auto v6 = HostPort::split_text("[fd00::/64]:*");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "fd00::/64");
  EXPECT_EQ(v6->port, "*");
  EXPECT_TRUE(v6->bracketed);
  EXPECT_EQ(HostPort::join_text(v6->host, v6->bracketed, v6->port), "[fd00::/64]:*");
  EXPECT_FALSE(HostPort::split_text("10.1.0.0/24"));
  EXPECT_FALSE(HostPort::split_text("[fd00::/64]"));
}

TEST(SocketAddress, BothFamiliesInNetworkOrder) {
  const SocketAddress v4 = socket_address(*Endpoint::parse("10.0.0.1:8080"));
  ASSERT_EQ(v4.family(), AF_INET);
  ASSERT_EQ(v4.length, sizeof(sockaddr_in));
  const auto* in = reinterpret_cast<const sockaddr_in*>(v4.get());
  EXPECT_EQ(ntohs(in->sin_port), 8080);
  EXPECT_EQ(ntohl(in->sin_addr.s_addr), 0x0a000001U);

  const SocketAddress v6 = socket_address(*Endpoint::parse("[fd00::1]:443"));
  ASSERT_EQ(v6.family(), AF_INET6);
  ASSERT_EQ(v6.length, sizeof(sockaddr_in6));
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(v6.get());
  EXPECT_EQ(ntohs(in6->sin6_port), 443);
  const std::uint8_t want[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(std::memcmp(&in6->sin6_addr, want, 16), 0);
}

}  // namespace dogfish
