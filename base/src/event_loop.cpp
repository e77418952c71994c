#include "dogfish/base/event_loop.hpp"

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "dogfish/base/errors.hpp"

namespace dogfish {
namespace {

constexpr std::uint64_t kTimerfdWatch = 0;

}  // namespace

EventLoop::EventLoop()
    : epoll_(epoll_create1(EPOLL_CLOEXEC)),
      timerfd_(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)) {
  if (!epoll_) throw OsError(errno, "epoll_create1");
  if (!timerfd_) throw OsError(errno, "timerfd_create");
  epoll_event ev{.events = EPOLLIN, .data = {.u64 = kTimerfdWatch}};
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timerfd_.get(), &ev) != 0)
    throw OsError(errno, "watching the timerfd");
}

void EventLoop::watch(int fd, std::uint32_t events, FdCallback on_ready) {
  if (fds_.contains(fd)) throw OsError(EEXIST, "watching fd " + std::to_string(fd));
  std::uint64_t serial = next_watch_++;
  epoll_event ev{.events = events, .data = {.u64 = serial}};
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    throw OsError(errno, "watching fd " + std::to_string(fd));
  watches_[serial] = std::make_shared<Watch>(Watch{.fd = fd, .on_ready = std::move(on_ready)});
  fds_[fd] = serial;
}

void EventLoop::modify(int fd, std::uint32_t events) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) throw OsError(ENOENT, "modifying unwatched fd " + std::to_string(fd));
  epoll_event ev{.events = events, .data = {.u64 = it->second}};
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
    throw OsError(errno, "modifying fd " + std::to_string(fd));
}

void EventLoop::unwatch(int fd) noexcept {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(it->second);
  fds_.erase(it);
}

EventLoop::TimerId EventLoop::after(Clock::duration delay, TimerCallback fn) {
  return add_timer(delay, Clock::duration::zero(), std::move(fn));
}

EventLoop::TimerId EventLoop::every(Clock::duration period, TimerCallback fn) {
  return add_timer(period, period, std::move(fn));
}

EventLoop::TimerId EventLoop::add_timer(Clock::duration delay, Clock::duration period,
                                        TimerCallback fn) {
  TimerId id = next_timer_++;
  auto timer = std::make_shared<Timer>(Timer{.period = period, .fn = std::move(fn)});
  queue(id, *timer, Clock::now() + delay);
  by_id_[id] = std::move(timer);
  arm_timerfd();
  return id;
}

void EventLoop::queue(TimerId id, Timer& timer, Clock::time_point due) {
  timer.slot = due_.emplace(due, id);
}

void EventLoop::cancel(TimerId id) noexcept {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  if (it->second->slot != due_.end()) due_.erase(it->second->slot);
  by_id_.erase(it);
  arm_timerfd();
}

void EventLoop::arm_timerfd() {
  itimerspec spec{};  // all zero disarms
  if (!due_.empty()) {
    auto wait = due_.begin()->first - Clock::now();
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    if (ns < 1) ns = 1;  // zero would disarm: an overdue timer fires at once
    spec.it_value = {.tv_sec = ns / 1'000'000'000, .tv_nsec = ns % 1'000'000'000};
  }
  timerfd_settime(timerfd_.get(), 0, &spec, nullptr);
}

void EventLoop::fire_due_timers() {
  std::uint64_t expirations;
  while (read(timerfd_.get(), &expirations, sizeof(expirations)) > 0) {
  }
  auto now = Clock::now();
  // Only what was due when the round began: a timer a callback starts with no delay waits
  // for the next round, so a zero-delay timer cannot starve the fds.
  std::vector<std::pair<TimerId, Clock::time_point>> due;
  for (auto it = due_.begin(); it != due_.end() && it->first <= now; it = due_.erase(it)) {
    due.emplace_back(it->second, it->first);
    by_id_.at(it->second)->slot = due_.end();
  }
  for (const auto& [id, when] : due)
    if (Timer& timer = *by_id_.at(id); timer.period != Clock::duration::zero())
      queue(id, timer, std::max(when + timer.period, now));
  arm_timerfd();
  for (const auto& [id, when] : due) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;           // cancelled by an earlier callback of this round
    std::shared_ptr<Timer> timer = it->second;  // lives through the call even if cancelled in it
    if (timer->period == Clock::duration::zero()) by_id_.erase(it);
    timer->fn();
  }
}

void EventLoop::run_once(Clock::duration timeout) {
  epoll_event events[32];
  int ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
  int n = epoll_wait(epoll_.get(), events, 32, ms);
  if (n < 0) {
    if (errno == EINTR) return;
    throw OsError(errno, "epoll_wait");
  }
  for (int i = 0; i < n && !stopped_; i++) {
    std::uint64_t serial = events[i].data.u64;
    if (serial == kTimerfdWatch) {
      fire_due_timers();
      continue;
    }
    auto it = watches_.find(serial);
    if (it == watches_.end()) continue;     // unwatched earlier in this round
    std::shared_ptr<Watch> w = it->second;  // lives through the call even if unwatched in it
    w->on_ready(events[i].events);
  }
}

void EventLoop::run() {
  stopped_ = false;
  while (!stopped_) run_once(std::chrono::hours(1));
}

}  // namespace dogfish
