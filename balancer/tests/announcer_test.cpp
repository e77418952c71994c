// The announcer without BIRD: what it writes for BIRD to include, when it asks BIRD to re-read
// it (a fake reconfigure), what it announces for a configuration, withdrawal at stop and on an
// error, and a BIRD that refuses.
#include "dogfish/announcer.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "dogfish/base/bird_control.hpp"
#include "dogfish/base/errors.hpp"
#include "param_name.hpp"

namespace dogfish {
namespace {

namespace fs = std::filesystem;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// An address's route (all of its bits), or a prefix's.
IpPrefix route(const char* text) {
  if (auto p = IpPrefix::parse(text)) return *p;
  const IpAddress a = ip(text);
  return {a, static_cast<std::uint8_t>(a.size() * 8)};
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class BirdAnnouncerTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() / ("announcer_test-" + std::to_string(getpid()) + "-" +
                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  BirdAnnouncer announcer() {
    return BirdAnnouncer({.bird_socket = "/nonexistent/bird.ctl", .include = include().string()},
                         [this] {
                           if (refuse_) throw Error("BIRD says no");
                           seen_.push_back(read(include()));
                         });
  }
  fs::path include() const { return dir_ / "vips.conf"; }

  fs::path dir_;
  bool refuse_ = false;
  std::vector<std::string> seen_;  // the include as BIRD read it, at each reconfigure
};

TEST(BirdInclude, TwoStaticProtocolsOneRouteAnAddress) {
  EXPECT_EQ(bird_include({route("10.100.0.2"), route("fd00:100::1"), route("10.100.0.1")}),
            "# Written by dogfish: the VIP addresses this balancer announces. Do not edit.\n"
            "protocol static dogfish_vips4 {\n  ipv4;\n"
            "  route 10.100.0.1/32 blackhole;\n  route 10.100.0.2/32 blackhole;\n}\n"
            "protocol static dogfish_vips6 {\n  ipv6;\n"
            "  route fd00:100::1/128 blackhole;\n}\n");
  EXPECT_EQ(bird_include({}),
            "# Written by dogfish: the VIP addresses this balancer announces. Do not edit.\n"
            "protocol static dogfish_vips4 {\n  ipv4;\n}\n"
            "protocol static dogfish_vips6 {\n  ipv6;\n}\n");
}

TEST(AddressesToAnnounce, EachAddressWithAServiceUpOnce) {
  Config c;
  c.vips = {{.address = ip("10.100.0.1"), .port = 80},
            {.address = ip("10.100.0.1"), .port = 53, .proto = Proto::udp},
            {.address = ip("fd00:100::1"), .port = 80},
            {.address = ip("10.100.0.9"), .port = 80}};
  EXPECT_EQ(addresses_to_announce(c, unchecked),
            (VipRoutes{route("10.100.0.1"), route("fd00:100::1"), route("10.100.0.9")}));
  // Only the UDP services have a real up: 10.100.0.1 stays for its port 53.
  auto only_udp = [](const VipConfig& v) { return VipHealth{.up = v.proto == Proto::udp}; };
  EXPECT_EQ(addresses_to_announce(c, only_udp), VipRoutes{route("10.100.0.1")});
  EXPECT_TRUE(addresses_to_announce(Config{}, unchecked).empty());
}

TEST(AddressesToAnnounce, APrefixVipIsAnnouncedAsItsPrefix) {
  Config c;
  c.vips = {{.address = ip("10.100.1.0"), .port = 80, .prefix_len = 24},
            {.address = ip("10.100.1.0"), .port = 0, .proto = Proto::udp, .prefix_len = 24},
            {.address = ip("10.100.1.0"), .port = 80},
            {.address = ip("fd00:101::"), .port = 80, .prefix_len = 120}};
  EXPECT_EQ(addresses_to_announce(c, unchecked),
            (VipRoutes{route("10.100.1.0/24"), route("10.100.1.0"), route("fd00:101::/120")}));
  EXPECT_EQ(bird_include(addresses_to_announce(c, unchecked)),
            "# Written by dogfish: the VIP addresses this balancer announces. Do not edit.\n"
            "protocol static dogfish_vips4 {\n  ipv4;\n"
            "  route 10.100.1.0/24 blackhole;\n  route 10.100.1.0/32 blackhole;\n}\n"
            "protocol static dogfish_vips6 {\n  ipv6;\n"
            "  route fd00:101::/120 blackhole;\n}\n");
}

TEST(AddressesToAnnounce, AnAddressWaitsForEveryServiceToSettleUnlessAnnouncedAlready) {
  Config c;
  c.vips = {{.address = ip("10.100.0.1"), .port = 80},
            {.address = ip("10.100.0.1"), .port = 53, .proto = Proto::udp},
            {.address = ip("10.100.0.2"), .port = 80}};
  auto udp_unsettled = [](const VipConfig& v) {
    return VipHealth{.settled = v.proto != Proto::udp};
  };
  EXPECT_EQ(addresses_to_announce(c, udp_unsettled), VipRoutes{route("10.100.0.2")});
  EXPECT_EQ(addresses_to_announce(c, udp_unsettled, {route("10.100.0.1")}),
            (VipRoutes{route("10.100.0.1"), route("10.100.0.2")}))
      << "announced, it stays while a service is up";
  auto down = [](const VipConfig&) { return VipHealth{.up = false}; };
  EXPECT_TRUE(addresses_to_announce(c, down, {route("10.100.0.1")}).empty());
}

TEST_F(BirdAnnouncerTest, WritesBeforeBirdRereadsAndOnlyOnChange) {
  auto a = announcer();
  a.announce({route("10.100.0.1")});
  a.announce({route("10.100.0.1")});  // the same set: BIRD is not asked again
  a.announce({route("10.100.0.1"), route("fd00:100::1")});
  a.announce({});
  ASSERT_EQ(seen_.size(), 3U);
  EXPECT_EQ(seen_[0], bird_include({route("10.100.0.1")}));
  EXPECT_EQ(seen_[1], bird_include({route("10.100.0.1"), route("fd00:100::1")}));
  EXPECT_EQ(seen_[2], bird_include({}));
  EXPECT_FALSE(fs::exists(include().string() + ".tmp"));
}

TEST_F(BirdAnnouncerTest, ARefusalIsLoggedAndTriedAgain) {
  auto a = announcer();
  refuse_ = true;
  EXPECT_NO_THROW(a.announce({route("10.100.0.1")}));
  // The file holds the set anyway: a BIRD that starts later reads it.
  EXPECT_EQ(read(include()), bird_include({route("10.100.0.1")}));
  refuse_ = false;
  a.announce({route("10.100.0.1")});  // the same set, but BIRD never took it
  EXPECT_EQ(seen_.size(), 1U);
}

TEST_F(BirdAnnouncerTest, WithoutBirdTheFileIsStillWritten) {
  BirdAnnouncer a({.bird_socket = (dir_ / "no-bird.ctl").string(), .include = include().string()});
  EXPECT_NO_THROW(a.announce({route("10.100.0.1")}));
  EXPECT_EQ(read(include()), bird_include({route("10.100.0.1")}));
}

// Records every set it is told.
class RecordingAnnouncer : public Announcer {
 public:
  explicit RecordingAnnouncer(std::vector<VipRoutes>& log) : log_(log) {}
  void announce(const VipRoutes& vips) override { log_.push_back(vips); }

 private:
  std::vector<VipRoutes>& log_;
};

TEST(VipAnnouncements, AnnouncedWhileAppliedWithdrawnAtStop) {
  std::vector<VipRoutes> log;
  Config c;
  c.vips = {{.address = ip("10.100.0.1"), .port = 80}};
  {
    VipAnnouncements a(std::make_unique<RecordingAnnouncer>(log), std::chrono::milliseconds(0));
    a.applied(c);
    c.vips.clear();  // a VIP deleted
    a.applied(c);
    c.vips = {{.address = ip("fd00:100::1"), .port = 80}};
    a.applied(c);
    a.stop();
  }  // nothing more after stop
  EXPECT_EQ(log, (std::vector<VipRoutes>{{route("10.100.0.1")}, {}, {route("fd00:100::1")}, {}}));
}

TEST(VipAnnouncements, AnErrorThatEndsTheDaemonWithdraws) {
  std::vector<VipRoutes> log;
  Config c;
  c.vips = {{.address = ip("10.100.0.1"), .port = 80}};
  try {
    VipAnnouncements a(std::make_unique<RecordingAnnouncer>(log), std::chrono::hours(1));
    a.applied(c);
    throw Error("the daemon fails");
  } catch (const Error&) {
  }
  EXPECT_EQ(log, (std::vector<VipRoutes>{{route("10.100.0.1")}, {}}));
}

TEST(VipAnnouncements, NothingAnnouncedBeforeTheFirstApply) {
  std::vector<VipRoutes> log;
  { VipAnnouncements a(std::make_unique<RecordingAnnouncer>(log), std::chrono::hours(1)); }
  EXPECT_TRUE(log.empty());
}

TEST(MakeAnnouncements, OffWithoutAnnounce) {
  EXPECT_EQ(make_announcements(Config{}), nullptr);
  Config c;
  c.announce = AnnounceConfig{.bird_socket = "/b.ctl", .include = "/v.conf"};
  EXPECT_NE(make_announcements(c), nullptr);
}

struct BirdLineRow {
  const char* description;
  const char* line;
  int continuing;  // the code of the reply a continuation line belongs to
  int code;
  const char* text;
  bool last;
};

const BirdLineRow kBirdLines[] = {
    {"a one-line reply", "0001 BIRD 2.0.12 ready.", 0, 1, "BIRD 2.0.12 ready.", true},
    {"a reply's first line of several", "0002-Reading configuration from /etc/bird.conf", 0, 2,
     "Reading configuration from /etc/bird.conf", false},
    {"a continuation keeps its reply's code", " more of the same", 1002, 1002, "more of the same",
     false},
    {"an error ends the reply", "8002 /etc/bird.conf:3:1 syntax error", 0, 8002,
     "/etc/bird.conf:3:1 syntax error", true},
};

class BirdLines : public testing::TestWithParam<BirdLineRow> {};

TEST_P(BirdLines, ParsesTheControlProtocol) {
  const BirdLineRow& row = GetParam();
  bool last = !row.last;
  BirdLine l = parse_bird_line(row.line, row.continuing, last);
  EXPECT_EQ(l.code, row.code);
  EXPECT_EQ(l.text, row.text);
  EXPECT_EQ(last, row.last);
}

INSTANTIATE_TEST_SUITE_P(Table, BirdLines, testing::ValuesIn(kBirdLines), DescriptionName());

TEST(BirdLine, NotTheProtocolIsAnError) {
  bool last = false;
  EXPECT_THROW(parse_bird_line("hello", 0, last), Error);
}

}  // namespace
}  // namespace dogfish
