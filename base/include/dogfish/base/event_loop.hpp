// One thread's event loop: file descriptors with callbacks, and timers, on epoll and one
// timerfd. The daemon runs one; the control socket, signals (a signalfd) and whatever else
// serves the daemon (health probes, a metrics endpoint, sd_notify) plug into it.
//
//   EventLoop loop;
//   loop.watch(fd, EPOLLIN, [&](std::uint32_t events) { ... });
//   TimerId t = loop.after(std::chrono::seconds(5), [&] { ... });
//   loop.every(std::chrono::seconds(1), [&] { ... });
//   loop.run();  // until a callback calls loop.stop()
//
// Callbacks run one at a time on the loop's thread and must not block. A callback may
// watch, unwatch, start and cancel anything, itself included: an fd unwatched or a timer
// cancelled during a round gets no further call in that round. An exception a callback
// lets out ends run() (the loop stays usable): whoever serves clients catches their errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>

#include "dogfish/base/fd.hpp"

namespace dogfish {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  // Gets the epoll events that fired (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR...).
  using FdCallback = std::function<void(std::uint32_t events)>;
  using TimerCallback = std::function<void()>;
  using TimerId = std::uint64_t;  // never 0: 0 can stand for "no timer"

  EventLoop();  // throws OsError
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Calls `on_ready` whenever `fd` has one of `events` (level-triggered) until unwatch().
  // The loop does not own fd: unwatch it before closing it. Throws OsError (e.g. an fd
  // already watched).
  void watch(int fd, std::uint32_t events, FdCallback on_ready);
  // Changes the events watched for (EPOLLOUT while output is pending, say).
  void modify(int fd, std::uint32_t events);
  // Stops watching; an fd not watched is no error.
  void unwatch(int fd) noexcept;

  // Calls `fn` once, `delay` from now.
  TimerId after(Clock::duration delay, TimerCallback fn);
  // Calls `fn` every `period`, the first time one period from now.
  TimerId every(Clock::duration period, TimerCallback fn);
  // A timer cancelled, fired (one-shot) or unknown is no error.
  void cancel(TimerId id) noexcept;

  // Waits for events and runs callbacks until stop(). Throws what a callback throws, and
  // OsError when epoll fails.
  void run();
  // Runs the callbacks of one round, waiting at most `timeout` for one: for tests.
  void run_once(Clock::duration timeout);
  // Makes run() return after the current callback.
  void stop() noexcept { stopped_ = true; }

  std::size_t watched() const noexcept { return fds_.size(); }
  std::size_t timers() const noexcept { return by_id_.size(); }

 private:
  struct Watch {
    int fd;
    FdCallback on_ready;
  };
  struct Timer {
    Clock::duration period;  // zero: one-shot
    TimerCallback fn;
    std::multimap<Clock::time_point, TimerId>::iterator slot;  // its place in due_
  };

  TimerId add_timer(Clock::duration delay, Clock::duration period, TimerCallback fn);
  void queue(TimerId id, Timer& timer, Clock::time_point due);
  void arm_timerfd();
  void fire_due_timers();

  UniqueFd epoll_;
  UniqueFd timerfd_;
  // By a serial number, not the fd: an event for an fd that was closed and reused within
  // one round must not reach the new watcher. 0 is the timerfd.
  std::map<std::uint64_t, std::shared_ptr<Watch>> watches_;
  std::map<int, std::uint64_t> fds_;
  std::uint64_t next_watch_ = 1;
  // Every live timer, and when each is due next.
  std::map<TimerId, std::shared_ptr<Timer>> by_id_;
  std::multimap<Clock::time_point, TimerId> due_;
  TimerId next_timer_ = 1;
  bool stopped_ = false;
};

}  // namespace dogfish
