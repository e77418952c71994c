#include "support/pinned_cpu.hpp"

namespace dogfish::testing {

PinnedToOneCpu::PinnedToOneCpu() {
  sched_getaffinity(0, sizeof(saved_), &saved_);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  sched_setaffinity(0, sizeof(one), &one);
}

PinnedToOneCpu::~PinnedToOneCpu() { sched_setaffinity(0, sizeof(saved_), &saved_); }

}  // namespace dogfish::testing
