// The name tables: every value named once, read both ways.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "dogfish/base/abi_names.hpp"
#include "dogfish/base/encap.hpp"
#include "dogfish/base/proto.hpp"
#include "dogfish/base/xdp.hpp"

namespace dogfish {
namespace {

TEST(Names, Proto) {
  for (Proto p : {Proto::tcp, Proto::udp}) EXPECT_EQ(parse_proto(to_string(p)), p);
  EXPECT_EQ(to_string(Proto::udp), "udp");
  EXPECT_FALSE(parse_proto("sctp"));
  EXPECT_FALSE(parse_proto("TCP"));
  EXPECT_EQ(proto_names(), "tcp, udp");
}

TEST(Names, Encap) {
  for (Encap e : {Encap::ipip, Encap::gue}) EXPECT_EQ(parse_encap(to_string(e)), e);
  EXPECT_EQ(static_cast<int>(Encap::gue), DF_ENCAP_GUE);
  EXPECT_EQ(to_string(Encap::ipip), "ipip");
  EXPECT_FALSE(parse_encap("fou"));
  EXPECT_EQ(encap_names(), "ipip, gue");
}

TEST(Names, XdpMode) {
  for (XdpMode m : {XdpMode::automatic, XdpMode::native, XdpMode::generic})
    EXPECT_EQ(parse_xdp_mode(to_string(m)), m);
  EXPECT_EQ(to_string(XdpMode::automatic), "auto");
  EXPECT_FALSE(parse_xdp_mode("automatic"));
}

TEST(Names, VipFlags) {
  EXPECT_EQ(parse_vip_flag("no_conn_table"), DF_VIP_NO_CONN_TABLE);
  EXPECT_EQ(parse_vip_flag("src_hash_only"), DF_VIP_SRC_HASH_ONLY);
  EXPECT_EQ(parse_vip_flag("no_src_port_hash"), DF_VIP_HASH_NO_SRC_PORT);
  EXPECT_EQ(parse_vip_flag("dport_hash_only"), DF_VIP_HASH_DPORT_ONLY);
  EXPECT_FALSE(parse_vip_flag("bogus"));
  EXPECT_EQ(vip_flag_names(DF_VIP_NO_CONN_TABLE | DF_VIP_SRC_HASH_ONLY),
            (std::vector<std::string>{"no_conn_table", "src_hash_only"}));
  EXPECT_EQ(vip_flag_names(DF_VIP_HASH_DPORT_ONLY), (std::vector<std::string>{"dport_hash_only"}));
  EXPECT_TRUE(vip_flag_names(0).empty());
}

// Indexed by the enum, named once each, sends, passes and drops where the ABI says.
TEST(Names, Reasons) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < balancer_reasons().size(); i++) {
    const ReasonName& r = balancer_reasons()[i];
    EXPECT_EQ(r.id, i);
    EXPECT_TRUE(seen.insert(r.name).second) << r.name;
    std::string name = r.name;
    if (i == DF_TX)
      EXPECT_EQ(name, "tx");
    else if (i < DF_FIRST_PASS)
      EXPECT_EQ(name.substr(0, 3), "tx_") << name;
    else if (i < DF_FIRST_DROP)
      EXPECT_EQ(name.substr(0, 5), "pass_") << name;
    else
      EXPECT_EQ(name.substr(0, 5), "drop_") << name;
  }
  seen.clear();
  for (std::size_t i = 0; i < decap_reasons().size(); i++) {
    const ReasonName& r = decap_reasons()[i];
    EXPECT_EQ(r.id, i);
    EXPECT_TRUE(seen.insert(r.name).second) << r.name;
    std::string name = r.name;
    std::string want = i < DF_DECAP_FIRST_PASS   ? "decap_"
                       : i < DF_DECAP_FIRST_DROP ? "pass_"
                                                 : "drop_";
    EXPECT_EQ(name.substr(0, want.size()), want) << name;
  }
}

}  // namespace
}  // namespace dogfish
