// Another build of dogfish's balancer object (main's, say) as a dogfish-bench target,
// loaded over the maps of the dogfish target: both programs see one service, one
// connection table and one set of counters, and the bench times the two builds in the
// same runs, so that a change to the data plane is measured against what it changes.
#pragma once

#include <string>
#include <vector>

#include "dogfish_target.hpp"
#include "target.hpp"

struct bpf_object;

namespace dogfish::bench {

class BaselineTarget : public Target {
 public:
  // The object's maps must be the dogfish target's (same names, types and sizes).
  BaselineTarget(const std::string& object_path, DogfishTarget& maps_from);
  ~BaselineTarget() override;
  BaselineTarget(const BaselineTarget&) = delete;
  BaselineTarget& operator=(const BaselineTarget&) = delete;

  std::string name() const override { return "baseline"; }
  int prog_fd() const override { return prog_fd_; }
  // A build from before any-port or prefix VIPs passes those paths' packets, one from before
  // GUE sends IPIP for it: those are timed on this build only.
  bool handles(PathKind kind) const override {
    return kind != PathKind::any_port_hit && kind != PathKind::prefix_hit &&
           kind != PathKind::gue_hit && kind != PathKind::v6_gue_hit;
  }
  void before_warm(PathKind kind) override { maps_from_.before_warm(kind); }
  void after_warm(PathKind kind) override { maps_from_.after_warm(kind); }
  uint64_t table_bytes() const override { return maps_from_.table_bytes(); }
  std::vector<size_t> table_entries() const override { return maps_from_.table_entries(); }
  void point_ring_at(uint32_t real_id) override { maps_from_.point_ring_at(real_id); }
  std::vector<std::string> counter_names() const override { return maps_from_.counter_names(); }
  Counts counters() const override { return maps_from_.counters(); }
  std::vector<int64_t> expect(PathKind kind) const override { return maps_from_.expect(kind); }

 private:
  DogfishTarget& maps_from_;
  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
};

}  // namespace dogfish::bench
