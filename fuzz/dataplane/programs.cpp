#include "programs.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "dogfish/base/errors.hpp"
#include "dogfish/bpf_data_plane.hpp"
#include "skeleton.hpp"

namespace dogfish::fuzz {
namespace {

// A map the program uses, found by name: the fuzzer needs no accessor for it.
UniqueFd map_of_program(int prog_fd, const char* name) {
  std::uint32_t ids[64];
  bpf_prog_info info{};
  info.nr_map_ids = std::size(ids);
  info.map_ids = reinterpret_cast<std::uint64_t>(ids);
  std::uint32_t len = sizeof(info);
  if (int err = bpf_obj_get_info_by_fd(prog_fd, &info, &len))
    throw OsError(-err, "reading the program's map ids");
  for (std::uint32_t i = 0; i < info.nr_map_ids && i < std::size(ids); i++) {
    UniqueFd fd(bpf_map_get_fd_by_id(ids[i]));
    if (!fd) continue;
    bpf_map_info m{};
    std::uint32_t mlen = sizeof(m);
    if (bpf_obj_get_info_by_fd(fd.get(), &m, &mlen) == 0 && std::strcmp(m.name, name) == 0)
      return fd;
  }
  throw Error(std::string("the program has no map named ") + name);
}

}  // namespace

ProgramRun::ProgramRun(int prog_fd, const char* stats_map, std::uint32_t reasons)
    : prog_fd_(prog_fd), stats_(map_of_program(prog_fd, stats_map)), reasons_(reasons) {
  bpf_map_info m{};
  std::uint32_t len = sizeof(m);
  if (int err = bpf_obj_get_info_by_fd(stats_.get(), &m, &len))
    throw OsError(-err, std::string("reading map ") + stats_map);
  if (m.value_size < reasons * sizeof(std::uint64_t))
    throw Error(std::string("map ") + stats_map + " is smaller than its reason counters");
  stride_ = (m.value_size + 7) / 8 * 8;
  scratch_.resize(stride_ * libbpf_num_possible_cpus());
  last_ = read_reasons();
}

std::vector<std::uint64_t> ProgramRun::read_reasons() {
  std::uint32_t zero = 0;
  if (bpf_map_lookup_elem(stats_.get(), &zero, scratch_.data()))
    throw OsError(errno, "reading the reason counters");
  std::vector<std::uint64_t> sum(reasons_);
  for (std::size_t cpu = 0; cpu < scratch_.size() / stride_; cpu++)
    for (std::uint32_t r = 0; r < reasons_; r++) {
      std::uint64_t v;
      std::memcpy(&v, &scratch_[cpu * stride_ + r * sizeof(v)], sizeof(v));
      sum[r] += v;
    }
  return sum;
}

Outcome ProgramRun::run(const Bytes& frame) {
  Outcome o{.in = frame, .out = Bytes(frame.size() + 256)};
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = o.in.data(), .data_out = o.out.data(),
              .data_size_in = static_cast<std::uint32_t>(o.in.size()),
              .data_size_out = static_cast<std::uint32_t>(o.out.size()), .repeat = 1);
  if (int err = bpf_prog_test_run_opts(prog_fd_, &opts))
    throw OsError(-err, "BPF_PROG_TEST_RUN of a " + std::to_string(frame.size()) + "-byte frame");
  o.verdict = opts.retval;
  o.out.resize(opts.data_size_out);
  std::vector<std::uint64_t> now = read_reasons();
  o.counted.resize(reasons_);
  for (std::uint32_t r = 0; r < reasons_; r++) o.counted[r] = now[r] - last_[r];
  last_ = std::move(now);
  return o;
}

Balancer::Balancer(const BalancerWorld& world) : world_(world) {
  dp_ = std::make_unique<BpfDataPlane>(
      BpfDataPlaneOptions{.limits = {.max_vips = static_cast<std::uint32_t>(world.vips.size()),
                                     .max_reals = 16,
                                     // Small, so the LRU evicts and flows come back as misses.
                                     .conn_entries = 4096}});
  for (const WorldReal& r : world.reals) {
    df_real real{};
    std::memcpy(real.addr, r.address.bytes.data(), sizeof(real.addr));
    real.family = r.address.family;
    dp_->put_real(r.id, real);
  }
  ring_slot_.resize(world.vips.size());
  std::mt19937_64 rng(0);
  for (std::uint32_t id = 0; id < world.vips.size(); id++) {
    const ServiceKey key = world.vips[id].service();
    if (key.prefix_len)
      dp_->put_vip_addr_prefix(to_df_addr_prefix_key(key.addresses()));
    else
      dp_->put_vip_addr(to_df_addr_key(key.address));
    ring_slot_[id] = id * DF_RINGS_PER_VIP + 1;
    reshuffle_ring(id, rng);
  }
  set_config(world.config);
  run_ = std::make_unique<ProgramRun>(dp_->prog_fd(), "global_stats", DF_REASON_MAX);
}

Balancer::~Balancer() = default;

void Balancer::reshuffle_ring(std::uint32_t vip_id, std::mt19937_64& rng) {
  const WorldVip& v = world_.vips.at(vip_id);
  std::vector<std::uint32_t> members;
  for (std::uint32_t id : v.pool)
    if (rng() % 2) members.push_back(id);
  if (members.empty() && !v.pool.empty()) members.push_back(v.pool[rng() % v.pool.size()]);
  std::vector<std::uint32_t> ring(dp_->limits().ring_size, DF_REAL_NONE);
  for (std::size_t i = 0; i < ring.size() && !members.empty(); i++)
    ring[i] = members[rng() % members.size()];
  // Write the ring packets do not read, then flip the VIP to it.
  std::uint32_t next = vip_id * DF_RINGS_PER_VIP + (ring_slot_[vip_id] % DF_RINGS_PER_VIP ? 0 : 1);
  dp_->write_ring(next, ring);
  const df_vip_meta meta{.vip_id = vip_id, .flags = v.flags, .ring_slot = next};
  if (v.prefix_len)
    dp_->put_vip_prefix(to_df_prefix_key(v.service()), meta);
  else
    dp_->put_vip(v.key, meta);
  ring_slot_[vip_id] = next;
}

void Balancer::set_config(const df_config& config) { dp_->set_config(config); }

Decap::Decap(const DecapWorld& world)
    : skel_(std::make_unique<decap::Skeleton>(decap::Mode::kXdp)) {
  skel_->load();
  for (const IpAddress& a : world.addrs) {
    df_decap_addr key{};
    std::memcpy(key.addr, a.bytes.data(), sizeof(key.addr));
    key.family = a.family;
    std::uint32_t one = 1;
    if (bpf_map_update_elem(skel_->map_fd("decap_addrs"), &key, &one, BPF_ANY))
      throw OsError(errno, "writing a decap address");
  }
  set_accept_any(world.accept_any);
  run_ = std::make_unique<ProgramRun>(bpf_program__fd(skel_->prog()), "decap_stats",
                                      DF_DECAP_REASON_MAX);
}

Decap::~Decap() = default;

void Decap::set_accept_any(bool accept_any) {
  std::uint32_t zero = 0;
  // Any outer source: the checker judges decap by its destinations and encapsulations; the
  // source allow-list has golden tests of its own (decap_test). No GUE: the checker knows IP
  // in IP; GUE's stripping has golden tests of its own too.
  df_decap_config cfg{.flags = DF_DECAP_ANY_SOURCE | (accept_any ? DF_DECAP_ACCEPT_ANY : 0u),
                      .gue_port = 0,
                      .pad = 0};
  if (bpf_map_update_elem(skel_->map_fd("decap_config"), &zero, &cfg, BPF_ANY))
    throw OsError(errno, "writing the decap config");
}

}  // namespace dogfish::fuzz
