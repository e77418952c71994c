// One real's health as rise/fall counting makes it: up or down, and how many
// results in a row have disagreed with that. A real starts up (a new daemon or a
// new real serves at once, as it did before health checks) and goes down after
// `fall` failures in a row; a down real comes up after `rise` passes in a row. A
// result that agrees with the state resets the count, so flapping faster than
// rise/fall never moves it.
#pragma once

#include <cstdint>

namespace dogfish {

class HealthState {
 public:
  bool up() const { return up_; }
  // Results in a row against the current state.
  std::uint32_t streak() const { return streak_; }

  // Counts one probe's result; true when it changed the state.
  bool observe(bool passed, std::uint32_t rise, std::uint32_t fall) {
    if (passed == up_) {
      streak_ = 0;
      return false;
    }
    if (++streak_ < (up_ ? fall : rise)) return false;
    up_ = passed;
    streak_ = 0;
    return true;
  }

 private:
  bool up_ = true;
  std::uint32_t streak_ = 0;
};

}  // namespace dogfish
