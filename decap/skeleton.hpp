// The two decap programs (decap.bpf.o for XDP, tc_decap.bpf.o for tc) behind one
// owner: both have the same maps, found by name, so the loader does not care which.
#pragma once

#include <bpf/libbpf.h>

#include <filesystem>
#include <string>
#include <variant>

#include "decap.skel.h"
#include "dogfish/base/skeleton.hpp"
#include "loader.hpp"
#include "tc_decap.skel.h"

namespace dogfish::decap {

inline constexpr const char* kMapNames[] = {"decap_addrs", "decap_config", "decap_stats",
                                            "decap_sources", "decap_inner_dsts"};

using XdpSkeleton = dogfish::Skeleton<decap_bpf>;
using TcSkeleton = dogfish::Skeleton<tc_decap_bpf>;

class Skeleton {
 public:
  explicit Skeleton(Mode mode) : skel_(open(mode)) {}

  // With a pin_dir, maps pinned there are reused (their counters and addresses
  // survive) and new ones are pinned there; without, the maps are fresh.
  void load(const std::filesystem::path* pin_dir = nullptr) {
    for (const char* name : kMapNames) {
      if (!pin_dir) break;
      int err = bpf_map__set_pin_path(map(name), (*pin_dir / name).c_str());
      if (err) throw OsError(-err, std::string("setting the pin path of map ") + name);
    }
    std::visit([](auto& s) { s.load(); }, skel_);
  }

  bpf_object* object() const {
    return std::visit([](auto& s) { return s->obj; }, skel_);
  }
  bpf_map* map(const char* name) const { return bpf_object__find_map_by_name(object(), name); }
  int map_fd(const char* name) const { return bpf_map__fd(map(name)); }
  bpf_program* prog() const {
    if (auto* x = std::get_if<XdpSkeleton>(&skel_)) return (*x)->progs.decap;
    return std::get<TcSkeleton>(skel_)->progs.tc_decap;
  }

 private:
  using Either = std::variant<XdpSkeleton, TcSkeleton>;
  static Either open(Mode mode) {
    if (mode == Mode::kXdp)
      return Either(std::in_place_type<XdpSkeleton>,
                    XdpSkeleton::Ops{decap_bpf__open, decap_bpf__load, decap_bpf__destroy});
    return Either(std::in_place_type<TcSkeleton>,
                  TcSkeleton::Ops{tc_decap_bpf__open, tc_decap_bpf__load, tc_decap_bpf__destroy});
  }

  Either skel_;
};

}  // namespace dogfish::decap
