// A RAII wrapper around the two decap skeletons (decap.bpf.o, tc_decap.bpf.o):
// open in the constructor, load() (optionally reusing pinned maps), destroy in
// the destructor; no copies. Both objects have the same maps, found by name.
#pragma once

#include <bpf/libbpf.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "decap.skel.h"
#include "loader.hpp"
#include "tc_decap.skel.h"

namespace dogfish::decap {

inline constexpr const char* kMapNames[] = {"decap_addrs", "decap_config", "decap_stats"};

// A loaded skeleton of either program, destroyed with this object; no copies.
class Skeleton {
 public:
  explicit Skeleton(Mode mode) : mode_(mode) {
    if (mode == Mode::kXdp) {
      xdp_ = decap_bpf__open();
      if (!xdp_) fail("open decap.bpf.o", errno);
      obj_ = xdp_->obj;
      prog_ = xdp_->progs.decap;
    } else {
      tc_ = tc_decap_bpf__open();
      if (!tc_) fail("open tc_decap.bpf.o", errno);
      obj_ = tc_->obj;
      prog_ = tc_->progs.tc_decap;
    }
  }
  ~Skeleton() {
    decap_bpf__destroy(xdp_);
    tc_decap_bpf__destroy(tc_);
  }
  Skeleton(const Skeleton&) = delete;
  Skeleton& operator=(const Skeleton&) = delete;

  // With a pin_dir, maps pinned there are reused (their counters and addresses
  // survive) and new ones are pinned there; without, the maps are fresh.
  void load(const std::filesystem::path* pin_dir = nullptr) {
    for (const char* name : kMapNames) {
      if (!pin_dir) break;
      int err = bpf_map__set_pin_path(map(name), (*pin_dir / name).c_str());
      if (err) fail(std::string("set pin path of map ") + name, err);
    }
    int err = mode_ == Mode::kXdp ? decap_bpf__load(xdp_) : tc_decap_bpf__load(tc_);
    if (err) fail(mode_ == Mode::kXdp ? "load decap.bpf.o" : "load tc_decap.bpf.o", err);
  }

  bpf_map* map(const char* name) { return bpf_object__find_map_by_name(obj_, name); }
  int map_fd(const char* name) { return bpf_map__fd(map(name)); }
  bpf_program* prog() { return prog_; }

 private:
  Mode mode_;
  decap_bpf* xdp_ = nullptr;
  tc_decap_bpf* tc_ = nullptr;
  bpf_object* obj_ = nullptr;
  bpf_program* prog_ = nullptr;
};

}  // namespace dogfish::decap
