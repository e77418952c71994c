// The fuzzing loop: frames from a FrameSource through the balancer and decap,
// each outcome judged by the checker, the balancer's encapsulations run through
// decap once more (the round trip), the configuration churned now and then.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "frame_view.hpp"

namespace dogfish::fuzz {

struct FuzzOptions {
  std::uint64_t frames = 1'000'000;
  std::uint64_t seed = 1;
  double progress_seconds = 10;  // 0: no progress lines
};

// Exit status: 0 when every frame kept every invariant, 1 at the first violation
// (reported on stderr with the frame and how to reproduce it).
int fuzz(const FuzzOptions& options);

// One frame through fresh objects, judged and described: for a reported frame.
int check_one_frame(const Bytes& frame);

}  // namespace dogfish::fuzz
