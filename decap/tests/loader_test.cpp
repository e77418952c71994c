// Unit tests of dogfish-decap's pieces that need neither root nor BPF.
#include "loader.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dogfish::decap {
namespace {

TEST(ParseAddr, Ipv4GoesInTheFirstFourBytes) {
  df_decap_addr a = parse_addr("10.0.0.2");
  EXPECT_EQ(a.family, DF_FAMILY_V4);
  EXPECT_EQ(a.addr[0], 10);
  EXPECT_EQ(a.addr[3], 2);
  for (int i = 4; i < 16; i++) EXPECT_EQ(a.addr[i], 0) << i;
  EXPECT_EQ(format_addr(a), "10.0.0.2");
}

TEST(ParseAddr, Ipv6RoundTrips) {
  df_decap_addr a = parse_addr("fd00::2");
  EXPECT_EQ(a.family, DF_FAMILY_V6);
  EXPECT_EQ(format_addr(a), "fd00::2");
}

TEST(ParseAddr, ErrorNamesTheValue) {
  for (const char* bad : {"10.0.0.256", "fd00:::2", "eth0", "", "10.0.0.0/24"}) {
    try {
      parse_addr(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Mode, Names) {
  EXPECT_EQ(parse_mode("xdp"), Mode::kXdp);
  EXPECT_EQ(parse_mode("tc"), Mode::kTc);
  EXPECT_EQ(to_string(Mode::kTc), "tc");
  EXPECT_FALSE(parse_mode("skb"));
}

}  // namespace
}  // namespace dogfish::decap
