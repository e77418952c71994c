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
  explicit DogfishTarget(uint32_t conn_entries);

  std::string name() const override { return "dogfish"; }
  int prog_fd() const override { return dp_->prog_fd(); }
  std::vector<std::string> counter_names() const override;
  Counts counters() const override;
  std::vector<int64_t> expect(PathKind kind) const override;

 private:
  void configure();

  std::unique_ptr<BpfDataPlane> dp_;
};

}  // namespace dogfish::bench
