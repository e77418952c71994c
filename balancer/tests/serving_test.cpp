// What a balancer announces as its health checks settle and its program's serving state
// changes, without BIRD, sockets or a kernel: the health monitor driven by a fake prober, the
// announcements told to a recording announcer, the serving watch reading a state the test
// sets. The cases are a balancer that starts, one whose link flaps (shorter and longer than
// the checks' fall), one whose real dies, and one whose program is detached.
#include "dogfish/serving.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "dogfish/announcer.hpp"
#include "dogfish/config_validation.hpp"
#include "dogfish/health_monitor.hpp"
#include "fake_prober.hpp"

namespace dogfish {
namespace {

using namespace std::chrono_literals;
using Addresses = VipRoutes;

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// The VIPs' routes.
const IpPrefix kChecked = {ip("10.0.0.1"), 32};  // checked through two reals
const IpPrefix kUnchecked = {ip("10.0.0.2"), 32};
const IpAddress kReal1 = ip("10.1.0.1");
const IpAddress kReal2 = ip("10.1.0.2");

constexpr const char* kConfig = R"(
interface: eth0
gateway: 02:00:00:00:00:01
vips:
  - {address: 10.0.0.1, port: 80, proto: tcp,
     health: {type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 2},
     reals: [{address: 10.1.0.1}, {address: 10.1.0.2}]}
  - {address: 10.0.0.2, port: 80, proto: tcp, reals: [{address: 10.1.0.1}]}
)";

class RecordingAnnouncer : public Announcer {
 public:
  explicit RecordingAnnouncer(std::vector<Addresses>& log) : log_(log) {}
  void announce(const Addresses& vips) override { log_.push_back(vips); }

 private:
  std::vector<Addresses>& log_;
};

class ServingTest : public testing::Test {
 protected:
  void SetUp() override {
    health.sync(config, t);
    announcements.applied(config);  // the daemon's first apply, just attached
  }

  // One check interval, as the daemon's health driver runs it: every due probe starts,
  // those to a dead real or over a link down fail, and the announcements follow a state
  // change or a real that settled.
  void round() {
    t += 1s;
    health.run(prober, t);
    finish();
  }
  // The probes started earlier finish now, as the link is now.
  void finish() {
    prober.answer([&](const IpAddress& a) { return state.link_up && !dead.contains(a); });
    const bool changed = health.run(prober, t + 1ms);
    if (health.take_newly_settled() || changed) announcements.applied(config);
  }
  void set(ServingState s) {
    state = s;
    watch.poll();
  }
  const Addresses& now() const { return log.back(); }
  // Settles every check (rise is 2: two passes each): the state the tests start from.
  void settle() {
    round();
    round();
    ASSERT_EQ(now(), (Addresses{kChecked, kUnchecked}));
  }

  Config config = parse_config(kConfig, "test.yaml");
  HealthClock::time_point t = HealthClock::now();
  HealthMonitor health;
  FakeProber prober;
  std::set<IpAddress> dead;
  std::vector<Addresses> log;
  VipAnnouncements announcements{std::make_unique<RecordingAnnouncer>(log), 0ms,
                                 [this](const VipConfig& vip) { return health.vip_health(vip); }};
  ServingState state;
  ServingWatch watch{
      [this] { return state; }, health,
      [this](const ServingState& s) { announcements.set_serving(s.serving(), config); }};
};

TEST_F(ServingTest, AStartingBalancerAnnouncesACheckedVipOnceItsChecksSettle) {
  EXPECT_EQ(now(), Addresses{kUnchecked}) << "no check to wait for";
  dead = {kReal2};
  round();
  EXPECT_EQ(now(), Addresses{kUnchecked}) << "real 2 failed once, not yet fall (2) times";
  round();
  EXPECT_TRUE(health.is_down(config.vips[0], config.vips[0].reals[1]));
  EXPECT_EQ(now(), (Addresses{kChecked, kUnchecked})) << "real 2 down, as its peers see it";
}

TEST_F(ServingTest, ALinkDownBrieflyWithdrawsAndWaitsForResultsFromAfterIt) {
  settle();
  set({.link_up = false});
  EXPECT_EQ(now(), Addresses{}) << "nothing forwards over a link down";
  round();  // one failure each: no real down (fall is 2)
  EXPECT_FALSE(health.is_down(config.vips[0], config.vips[0].reals[0]));
  EXPECT_EQ(now(), Addresses{});
  set({});
  EXPECT_EQ(now(), Addresses{kUnchecked}) << "the checked VIP waits for new results";
  round();
  EXPECT_EQ(now(), Addresses{kUnchecked}) << "one new pass each: an up real needs rise (2)";
  round();
  EXPECT_EQ(now(), (Addresses{kChecked, kUnchecked}));
}

// The race main had: probes are spread over the interval, so after a link came back one
// real could rise while another had given one result only, a failure (a neighbour not yet
// resolved, a slow answer). That settled it as down while its peers saw it up, and the
// balancer rejoined the group with another ring than theirs. Here real 1 rises on one pass
// (its own check), which is what the spread looks like in lockstep rounds.
TEST_F(ServingTest, OneFailureJustAfterTheLinkCameBackDoesNotSettleARealDown) {
  std::string text = kConfig;
  const std::string real1 = "{address: 10.1.0.1}";
  text.replace(text.find(real1), real1.size(),
               "{address: 10.1.0.1, health: {type: tcp, interval: 1s, timeout: 500ms, rise: 1, "
               "fall: 2}}");
  config = parse_config(text, "test.yaml");
  health.sync(config, t);
  announcements.applied(config);
  settle();
  set({.link_up = false});
  for (int i = 0; i < 3; i++) round();
  ASSERT_TRUE(health.all_down(config.vips[0]));
  set({});
  dead = {kReal2};
  round();  // real 1 rises; real 2's first probe since fails
  EXPECT_FALSE(health.is_down(config.vips[0], config.vips[0].reals[0]));
  EXPECT_EQ(now(), Addresses{kUnchecked}) << "real 2 has failed once, not fall (2) times";
  dead = {};
  round();
  EXPECT_EQ(now(), Addresses{kUnchecked}) << "real 2 is rising";
  round();
  EXPECT_FALSE(health.is_down(config.vips[0], config.vips[0].reals[1]));
  EXPECT_EQ(now(), (Addresses{kChecked, kUnchecked})) << "both reals in the ring, as its peers";
}

TEST_F(ServingTest, ALinkDownForLongerThanFallWaitsForEveryRealToRise) {
  settle();
  set({.link_up = false});
  for (int i = 0; i < 3; i++) round();
  EXPECT_TRUE(health.all_down(config.vips[0]));
  set({});
  round();  // one pass each: rise is 2
  EXPECT_EQ(now(), Addresses{kUnchecked});
  round();
  EXPECT_FALSE(health.is_down(config.vips[0], config.vips[0].reals[0]));
  EXPECT_FALSE(health.is_down(config.vips[0], config.vips[0].reals[1]));
  EXPECT_EQ(now(), (Addresses{kChecked, kUnchecked})) << "both reals in the ring, as its peers";
}

TEST_F(ServingTest, AProbeStartedBeforeTheLinkCameBackSettlesNothing) {
  settle();
  set({.link_up = false});
  t += 1s;
  health.run(prober, t);  // started over the link down...
  set({});
  finish();  // ...and passed once it was up
  EXPECT_EQ(now(), Addresses{kUnchecked});
  round();
  round();  // two new passes each (rise)
  EXPECT_EQ(now(), (Addresses{kChecked, kUnchecked}));
}

TEST_F(ServingTest, ARealThatDiesWithdrawsNothingUntilEveryRealIsDown) {
  settle();
  const std::size_t told = log.size();
  dead = {kReal2};
  round();  // unsettled: real 2 is failing
  round();  // down
  dead = {kReal1, kReal2};
  round();
  for (std::size_t i = told; i < log.size(); i++)
    EXPECT_TRUE(log[i].contains(kChecked)) << "withdrawn at step " << i;
  round();
  EXPECT_EQ(now(), Addresses{kUnchecked}) << "every real down";
  dead = {kReal2};
  round();
  round();
  EXPECT_EQ(now(), (Addresses{kChecked, kUnchecked})) << "real 1 up again, real 2 still down";
}

TEST_F(ServingTest, ADetachedProgramWithdrawsAndAnnouncesAgainOnceBack) {
  settle();
  set({.attached = false});
  EXPECT_EQ(now(), Addresses{});
  announcements.applied(config);  // a change applied meanwhile announces nothing
  EXPECT_EQ(now(), Addresses{});
  set({});
  EXPECT_EQ(now(), (Addresses{kChecked, kUnchecked})) << "the checks saw nothing wrong";
}

}  // namespace
}  // namespace dogfish
