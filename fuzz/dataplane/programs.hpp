// The two BPF objects under test, loaded fresh (no pins) and configured from the
// World: the balancer through the control plane's own BpfDataPlane, decap
// through its skeleton. Each runs a frame with BPF_PROG_TEST_RUN and reports the
// verdict, the frame left and the reasons the frame counted.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "checker.hpp"
#include "dogfish/base/fd.hpp"
#include "world.hpp"

namespace dogfish {
class BpfDataPlane;
namespace decap {
class Skeleton;
}
}  // namespace dogfish

namespace dogfish::fuzz {

// A program and its per-CPU reason counters (an array of u64 at the start of
// the stats map's one value), read after each run for what this frame counted.
class ProgramRun {
 public:
  ProgramRun(int prog_fd, const char* stats_map, std::uint32_t reasons);
  Outcome run(const Bytes& frame);

 private:
  std::vector<std::uint64_t> read_reasons();

  int prog_fd_;
  UniqueFd stats_;
  std::uint32_t reasons_;
  std::size_t stride_;  // bytes per CPU in a lookup
  std::vector<std::uint8_t> scratch_;
  std::vector<std::uint64_t> last_;
};

class Balancer {
 public:
  explicit Balancer(const BalancerWorld& world);
  ~Balancer();
  Outcome run(const Bytes& frame) { return run_->run(frame); }
  // Publishes a ring for vip_id drawn from its pool (at least one real when it has any).
  void reshuffle_ring(std::uint32_t vip_id, std::mt19937_64& rng);
  void set_config(const df_config& config);

 private:
  const BalancerWorld& world_;
  std::unique_ptr<BpfDataPlane> dp_;
  std::unique_ptr<ProgramRun> run_;
  std::vector<std::uint32_t> ring_slot_;  // by vip_id: the ring packets read now
};

class Decap {
 public:
  explicit Decap(const DecapWorld& world);
  ~Decap();
  Outcome run(const Bytes& frame) { return run_->run(frame); }
  void set_accept_any(bool accept_any);

 private:
  std::unique_ptr<decap::Skeleton> skel_;
  std::unique_ptr<ProgramRun> run_;
};

}  // namespace dogfish::fuzz
