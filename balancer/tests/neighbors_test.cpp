// Neighbour resolution through rtnetlink, in a private network namespace with
// two more made by the test: the balancer's side resolves the gateway's side.
#include "dogfish/neighbors.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace dogfish {
namespace {

class NeighborTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    // A peer in its own namespace answers ARP and NDP; the netns dies with this process's
    // last reference, which `ip netns` holds: TearDownTestSuite removes it.
    ASSERT_EQ(std::system(("ip netns add " + peer_ns()).c_str()), 0);
    std::string cmds =
        "ip link add dfn0 type veth peer name dfn1 && "
        "ip link set dfn1 netns " +
        peer_ns() +
        " && "
        "ip link set dfn0 up && ip addr add 10.77.0.1/24 dev dfn0 && "
        "ip addr add fd77::1/64 dev dfn0 nodad && "
        "ip -n " +
        peer_ns() +
        " link set dfn1 address 02:77:00:00:00:02 && "
        "ip -n " +
        peer_ns() +
        " link set dfn1 up && "
        "ip -n " +
        peer_ns() +
        " addr add 10.77.0.2/24 dev dfn1 && "
        "ip -n " +
        peer_ns() +
        " addr add fd77::2/64 dev dfn1 nodad && "
        "ip neigh add 10.77.0.9 lladdr 02:77:00:00:00:09 dev dfn0 nud permanent";
    ASSERT_EQ(std::system(cmds.c_str()), 0);
  }
  static void TearDownTestSuite() { std::system(("ip netns del " + peer_ns()).c_str()); }
  static std::string peer_ns() { return "dfneigh" + std::to_string(getpid()); }
};

TEST_F(NeighborTest, FindsAPermanentEntry) {
  auto mac = lookup_neighbor("10.77.0.9", "dfn0");
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->to_string(), "02:77:00:00:00:09");
}

TEST_F(NeighborTest, ProbesAnAbsentIpv4Neighbour) {
  EXPECT_FALSE(lookup_neighbor("10.77.0.2", "dfn0"));
  EXPECT_EQ(resolve_neighbor("10.77.0.2", "dfn0").to_string(), "02:77:00:00:00:02");
}

TEST_F(NeighborTest, ProbesAnAbsentIpv6Neighbour) {
  EXPECT_EQ(resolve_neighbor("fd77::2", "dfn0").to_string(), "02:77:00:00:00:02");
}

TEST_F(NeighborTest, AnUnansweredAddressTimesOutNamingIt) {
  try {
    resolve_neighbor("10.77.0.200", "dfn0", std::chrono::milliseconds(300));
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("10.77.0.200"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dogfish
