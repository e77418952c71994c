// Keeps the calling thread on one CPU, for tests of what a BPF program keeps per CPU.
#pragma once

#include <sched.h>

namespace dogfish::testing {

// Keeps the thread on the CPU it runs on while it lives, for tests of what the program
// keeps per CPU (the flood guard's buckets, the VIP map's copies).
class PinnedToOneCpu {
 public:
  PinnedToOneCpu();
  ~PinnedToOneCpu();
  PinnedToOneCpu(const PinnedToOneCpu&) = delete;
  PinnedToOneCpu& operator=(const PinnedToOneCpu&) = delete;

 private:
  cpu_set_t saved_;
};

}  // namespace dogfish::testing
