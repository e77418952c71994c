// The invariants every frame must keep, judged from what a program did with it:
// its verdict, the reasons it counted, the frame it left. Each program has one
// table of rules, a row per (verdict, reasons), each row the promises such a
// frame must keep (checker.cpp). A new reason or verdict (an XDP_TX that is an
// ICMP reply) is a new row; a verdict and reason no row covers is a violation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "frame_view.hpp"
#include "world.hpp"

namespace dogfish::fuzz {

// What one program did with one frame.
struct Outcome {
  std::uint32_t verdict = 0;           // XDP_*
  std::vector<std::uint64_t> counted;  // per reason: how often this frame counted it
  Bytes in;                            // the frame given
  Bytes out;                           // the frame the program left

  // The one reason counted, or nothing when it was not exactly one.
  std::optional<std::uint32_t> reason() const;
};

// Each returns nothing when every invariant holds, else what broke, in one line.
std::optional<std::string> check_balancer(const BalancerWorld& world, const Outcome& o);
std::optional<std::string> check_decap(const DecapWorld& world, const Outcome& o);

// A frame the balancer sent, run through decap on its real: decap strips it back
// to the client's packet (`client` is what the balancer was given).
std::optional<std::string> check_round_trip(const Bytes& client, const Outcome& decap);

const char* verdict_name(std::uint32_t verdict);

}  // namespace dogfish::fuzz
