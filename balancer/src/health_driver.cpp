#include "dogfish/health_driver.hpp"

#include <sys/epoll.h>

#include <chrono>
#include <exception>
#include <utility>

#include "dogfish/base/log.hpp"

namespace dogfish {

HealthDriver::HealthDriver(EventLoop& loop, HealthMonitor& health, Prober& prober,
                           Controller& controller, std::function<void()> changed)
    : loop_(loop),
      health_(health),
      prober_(prober),
      controller_(controller),
      changed_(std::move(changed)) {
  if (prober_.fd() >= 0) loop_.watch(prober_.fd(), EPOLLIN, [this](std::uint32_t) { kick(); });
}

HealthDriver::~HealthDriver() {
  loop_.cancel(timer_);
  if (prober_.fd() >= 0) loop_.unwatch(prober_.fd());
}

void HealthDriver::kick() {
  const bool changed = health_.run(prober_, HealthClock::now());
  if (changed) {
    try {
      ReconcileReport r = controller_.health_changed();  // the monitor logged each transition
      log_debug("health change: {} rings written, {} connections re-hash", r.rings_written,
                r.flows_forgotten);
    } catch (const std::exception& e) {
      log_error("applying a health change failed: {}", e.what());
    }
  }
  if ((health_.take_newly_settled() || changed) && changed_) changed_();
  loop_.cancel(timer_);
  timer_ = 0;
  int ms = health_.wait_ms(prober_, HealthClock::now());
  if (ms >= 0)
    timer_ = loop_.after(std::chrono::milliseconds(ms), [this] {
      timer_ = 0;
      kick();
    });
}

}  // namespace dogfish
