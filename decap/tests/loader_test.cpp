// Unit tests of dogfish-decap's pieces that need neither root nor BPF.
#include "loader.hpp"

#include <gtest/gtest.h>

#include <set>
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

TEST(Reasons, NamesAreUniqueAndTypesComeFirst) {
  std::set<std::string_view> names;
  for (const auto& r : kReasons) EXPECT_TRUE(names.insert(r.name).second) << r.name;
  EXPECT_EQ(kReasons[DF_DECAP_DECAP_4IN4].name, "decap_4in4");
  EXPECT_EQ(kReasons[DF_DECAP_FIRST_PASS].name.substr(0, 5), "pass_");
  EXPECT_EQ(kReasons[DF_DECAP_FIRST_DROP].name.substr(0, 5), "drop_");
}

TEST(Fail, CarriesErrnoAndWhere) {
  try {
    fail("open thing", -2);
    ADD_FAILURE() << "fail() returned";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "open thing: No such file or directory (errno 2)");
  }
}

}  // namespace
}  // namespace dogfish::decap
