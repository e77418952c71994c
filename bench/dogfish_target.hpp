// dogfish's balancer as a dogfish-bench target: loaded from its skeleton through
// the control plane's BpfDataPlane and configured with the bench's service.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dogfish/bpf_data_plane.hpp"
#include "target.hpp"

namespace dogfish::bench {

class DogfishTarget : public Target {
 public:
  // insert_rate: the flood guard's conn_insert_rate for the runs (warm-ups have none).
  DogfishTarget(uint32_t conn_entries, uint32_t insert_rate);

  std::string name() const override { return "dogfish"; }
  int prog_fd() const override { return dp_->prog_fd(); }
  int probe_prog_fd() const { return dp_->probe_prog_fd(); }  // the maps only tc uses
  // Warm-ups have no flood guard; each path runs with its own max_packet_size.
  void before_warm(PathKind kind) override { set_limits(kind, 0); }
  void after_warm(PathKind kind) override { set_limits(kind, insert_rate_); }
  uint64_t table_bytes() const override;
  std::vector<size_t> table_entries() const override;
  void point_ring_at(uint32_t real_id) override;
  std::vector<std::string> counter_names() const override;
  Counts counters() const override;
  std::vector<int64_t> expect(PathKind kind) const override;

 private:
  void configure();
  void set_limits(PathKind kind, uint32_t insert_rate);

  std::unique_ptr<BpfDataPlane> dp_;
  uint32_t insert_rate_;
};

}  // namespace dogfish::bench
