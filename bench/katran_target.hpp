// Katran's balancer object as a dogfish-bench target: loaded from the file its
// own build made, its maps set up just enough for the bench's service (VIPs,
// reals, rings, the gateway MAC, one LRU per CPU) by layouts read from the
// object's BTF. Nothing of Katran is built or shipped with dogfish.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "target.hpp"

struct bpf_object;

namespace dogfish::bench {

class KatranTarget : public Target {
 public:
  // conn_entries is split evenly over the possible CPUs, as Katran's own loader does.
  KatranTarget(const std::string& object_path, const std::string& prog_name, uint32_t conn_entries);
  ~KatranTarget() override;
  KatranTarget(const KatranTarget&) = delete;
  KatranTarget& operator=(const KatranTarget&) = delete;

  std::string name() const override { return "katran"; }
  int prog_fd() const override { return prog_fd_; }
  bool handles(PathKind kind) const override;
  void before_warm(PathKind kind) override;
  void before_prefill() override { reset_guard(); }
  uint64_t table_bytes() const override;
  std::vector<size_t> table_entries() const override;
  void point_ring_at(uint32_t real_id) override;
  std::vector<std::string> counter_names() const override;
  Counts counters() const override;
  std::vector<int64_t> expect(PathKind kind) const override;

 private:
  void create_lrus(uint32_t per_cpu);
  void configure();
  void write_ring(uint32_t vip_num, uint32_t a, uint32_t b);
  void reset_guard();
  int map_fd(const char* name) const;

  bpf_object* obj_ = nullptr;
  int prog_fd_ = -1;
  uint32_t max_vips_ = 0;  // the stats map holds 2 x MAX_VIPS: per-VIP entries, then globals
  std::vector<int> lru_fds_;
};

}  // namespace dogfish::bench
