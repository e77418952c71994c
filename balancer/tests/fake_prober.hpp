// A Prober that starts nothing: it records what the monitor starts and answers when a test
// says so, for unit tests of the health logic without sockets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "dogfish/health_prober.hpp"

namespace dogfish {

// Records what the monitor starts; answers when a test says so.
class FakeProber : public Prober {
 public:
  void start(std::uint64_t id, const ProbeSpec& spec, HealthClock::time_point now) override {
    running[id] = spec;
    started.push_back({id, now});
  }
  std::vector<ProbeResult> collect(HealthClock::time_point) override {
    return std::exchange(finished, {});
  }
  std::optional<HealthClock::time_point> next_deadline() const override { return std::nullopt; }
  int fd() const override { return -1; }

  // Answers every running probe whose real passes `passed_for`.
  template <typename F>
  void answer(F passed_for) {
    for (const auto& [id, spec] : running) {
      bool passed = passed_for(spec.real);
      finished.push_back({id, passed, passed ? "connected" : "Connection refused"});
    }
    running.clear();
  }

  std::map<std::uint64_t, ProbeSpec> running;
  std::vector<ProbeResult> finished;
  std::vector<std::pair<std::uint64_t, HealthClock::time_point>> started;
};

}  // namespace dogfish
