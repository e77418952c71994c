// Runs the health monitor on the daemon's event loop: the prober's descriptor wakes it when
// a probe has news, and one timer when the next probe is due or times out. Anything that may
// change what is probed (a control request, a reload) calls kick() so the timer follows.
// `changed` runs after a health change was applied, and when a real settled (the
// announcements follow both).
#pragma once

#include <functional>

#include "dogfish/base/event_loop.hpp"
#include "dogfish/controller.hpp"
#include "dogfish/health_monitor.hpp"
#include "dogfish/health_prober.hpp"

namespace dogfish {

class HealthDriver {
 public:
  HealthDriver(EventLoop& loop, HealthMonitor& health, Prober& prober, Controller& controller,
               std::function<void()> changed = {});
  ~HealthDriver();
  HealthDriver(const HealthDriver&) = delete;
  HealthDriver& operator=(const HealthDriver&) = delete;

  // Takes finished probes, starts due ones, applies state changes, re-arms the timer.
  void kick();

 private:
  EventLoop& loop_;
  HealthMonitor& health_;
  Prober& prober_;
  Controller& controller_;
  std::function<void()> changed_;
  EventLoop::TimerId timer_ = 0;
};

}  // namespace dogfish
