// Where the fuzzer's frames come from: a corpus shaped like the golden tests'
// (built with the same packet library, bpf/tests/support/packet.hpp), mutated
// blindly and by header field, and frames of random bytes. Deterministic: one
// seed, one sequence of frames.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "frame_view.hpp"
#include "world.hpp"

namespace dogfish::fuzz {

// Clients' packets to every VIP and to strangers, the malformed kinds the golden
// tests name, and encapsulated packets to decap's addresses and to others.
std::vector<Bytes> seed_corpus(const World& world);

// How a frame was made, for the summary.
enum class FrameKind { seed_new_flow, mutated, spliced, random_bytes, random_headers, count };
const char* to_string(FrameKind kind);

class FrameSource {
 public:
  static constexpr std::size_t kMinFrame = 14;    // BPF_PROG_TEST_RUN's floor for XDP
  static constexpr std::size_t kMaxFrame = 2048;  // well inside its page

  FrameSource(std::uint64_t seed, std::vector<Bytes> corpus, std::vector<IpAddress> addresses);

  Bytes next();
  FrameKind last_kind() const { return last_; }
  std::mt19937_64& rng() { return rng_; }

 private:
  std::uint64_t below(std::uint64_t n) { return n ? rng_() % n : 0; }
  bool chance(unsigned percent) { return below(100) < percent; }

  void new_flow(Bytes& f);
  void mutate_once(Bytes& f);
  void set_field(Bytes& f);
  void set_address(Bytes& f);
  std::uint16_t edge16(std::size_t claim);
  Bytes random_headers();
  void clamp(Bytes& f);

  std::mt19937_64 rng_;
  std::vector<Bytes> corpus_;
  std::vector<IpAddress> addresses_;
  FrameKind last_ = FrameKind::mutated;
};

}  // namespace dogfish::fuzz
