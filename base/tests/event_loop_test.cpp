#include "dogfish/base/event_loop.hpp"

#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"

namespace dogfish {
namespace {

using namespace std::chrono_literals;

struct Pair {
  UniqueFd a, b;
  Pair() {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) != 0) throw OsError(errno, "sp");
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
};

// Runs rounds until `done` or 5 s have passed (a bound against a hang, not a timing check).
template <typename F>
void run_until(EventLoop& loop, F done) {
  auto end = EventLoop::Clock::now() + 5s;
  while (!done() && EventLoop::Clock::now() < end) loop.run_once(100ms);
  ASSERT_TRUE(done());
}

TEST(EventLoop, CallsAnFdCallbackWhileItIsReady) {
  EventLoop loop;
  Pair p;
  int calls = 0;
  loop.watch(p.a.get(), EPOLLIN, [&](std::uint32_t events) {
    EXPECT_TRUE(events & EPOLLIN);
    char c;
    if (read(p.a.get(), &c, 1) == 1) calls++;
  });
  ASSERT_EQ(write(p.b.get(), "xy", 2), 2);
  run_until(loop, [&] { return calls == 2; });
  loop.unwatch(p.a.get());
  EXPECT_EQ(loop.watched(), 0u);
}

TEST(EventLoop, WatchingAnFdTwiceIsAnError) {
  EventLoop loop;
  Pair p;
  loop.watch(p.a.get(), EPOLLIN, [](std::uint32_t) {});
  EXPECT_THROW(loop.watch(p.a.get(), EPOLLIN, [](std::uint32_t) {}), OsError);
}

TEST(EventLoop, TimersFireInOrderOfDueTime) {
  EventLoop loop;
  std::vector<int> fired;
  loop.after(30ms, [&] { fired.push_back(3); });
  loop.after(0ms, [&] { fired.push_back(1); });
  loop.after(10ms, [&] { fired.push_back(2); });
  run_until(loop, [&] { return fired.size() == 3; });
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(loop.timers(), 0u);
}

TEST(EventLoop, PeriodicTimerRepeatsUntilCancelled) {
  EventLoop loop;
  int ticks = 0;
  EventLoop::TimerId id = 0;
  id = loop.every(1ms, [&] {
    if (++ticks == 3) loop.cancel(id);
  });
  run_until(loop, [&] { return ticks == 3; });
  EXPECT_EQ(loop.timers(), 0u);
  loop.run_once(20ms);
  EXPECT_EQ(ticks, 3);
}

TEST(EventLoop, ATimerCancelledByAnEarlierOneOfTheSameRoundDoesNotFire) {
  EventLoop loop;
  bool second = false;
  EventLoop::TimerId later = 0;
  loop.after(0ms, [&] { loop.cancel(later); });
  later = loop.after(0ms, [&] { second = true; });
  std::this_thread::sleep_for(2ms);  // both due before the round
  loop.run_once(100ms);
  EXPECT_FALSE(second);
}

TEST(EventLoop, AnFdUnwatchedByAnEarlierCallbackOfTheSameRoundIsNotCalled) {
  EventLoop loop;
  Pair p, q;
  int calls = 0;
  auto first = [&](std::uint32_t) {
    calls++;
    loop.unwatch(p.a.get());
    loop.unwatch(q.a.get());
  };
  loop.watch(p.a.get(), EPOLLIN, first);
  loop.watch(q.a.get(), EPOLLIN, first);
  ASSERT_EQ(write(p.b.get(), "x", 1), 1);
  ASSERT_EQ(write(q.b.get(), "x", 1), 1);
  loop.run_once(1s);
  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, StopEndsRunAndAnExceptionLeavesIt) {
  EventLoop loop;
  loop.after(1ms, [&] { loop.stop(); });
  loop.run();  // returns
  loop.after(1ms, [] { throw std::runtime_error("boom"); });
  EXPECT_THROW(loop.run(), std::runtime_error);
  int later = 0;
  loop.after(1ms, [&] { later++, loop.stop(); });
  loop.run();  // still usable
  EXPECT_EQ(later, 1);
}

}  // namespace
}  // namespace dogfish
