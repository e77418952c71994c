#include "balancer_harness.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "balancer.skel.h"

namespace dogfish::testing {
namespace {

constexpr uint32_t kMaxVips = 8;
constexpr uint32_t kMaxReals = 64;

void check(int err, const std::string& what) {
  if (err < 0) throw std::runtime_error(what + ": " + std::strerror(-err));
}

template <typename T>
T sum_percpu(int fd, uint32_t key) {
  int ncpu = libbpf_num_possible_cpus();
  std::vector<T> values(ncpu);
  T total{};
  if (bpf_map_lookup_elem(fd, &key, values.data()) != 0) return total;
  for (const T& v : values) {
    const uint64_t* in = reinterpret_cast<const uint64_t*>(&v);
    uint64_t* out = reinterpret_cast<uint64_t*>(&total);
    for (size_t i = 0; i < sizeof(T) / sizeof(uint64_t); i++) out[i] += in[i];
  }
  return total;
}

void fill_addr(uint8_t* dst, uint8_t* family, const std::string& addr) {
  if (addr.find(':') != std::string::npos) {
    auto a = ip6(addr);
    std::memcpy(dst, a.data(), 16);
    *family = DF_FAMILY_V6;
  } else {
    auto a = ip4(addr);
    std::memcpy(dst, a.data(), 4);
    *family = DF_FAMILY_V4;
  }
}

}  // namespace

BalancerHarness::BalancerHarness() {
  skel_ = balancer_bpf__open();
  if (!skel_) throw std::runtime_error("balancer_bpf__open failed");
  skel_->rodata->ring_size = kTestRingSize;
  check(bpf_map__set_max_entries(skel_->maps.vips, kMaxVips), "vips size");
  check(bpf_map__set_max_entries(skel_->maps.vip_stats, kMaxVips), "vip_stats size");
  check(bpf_map__set_max_entries(skel_->maps.reals, kMaxReals), "reals size");
  check(bpf_map__set_max_entries(skel_->maps.real_stats, kMaxReals), "real_stats size");
  check(bpf_map__set_max_entries(skel_->maps.conn_table, 1024), "conn_table size");
  check(bpf_map__set_max_entries(skel_->maps.rings, kMaxVips * DF_RINGS_PER_VIP * kTestRingSize),
        "rings size");
  int err = balancer_bpf__load(skel_);
  if (err) {
    balancer_bpf__destroy(skel_);
    check(err, "balancer_bpf__load");
  }
  rings_len_ = size_t(kMaxVips) * DF_RINGS_PER_VIP * kTestRingSize * DF_RING_MMAP_STRIDE;
  void* m = mmap(nullptr, rings_len_, PROT_READ | PROT_WRITE, MAP_SHARED,
                 bpf_map__fd(skel_->maps.rings), 0);
  if (m == MAP_FAILED) {
    balancer_bpf__destroy(skel_);
    throw std::runtime_error(std::string("mmap rings: ") + std::strerror(errno));
  }
  rings_ = static_cast<uint32_t*>(m);

  df_config& cfg = config();
  std::memcpy(cfg.gateway_mac, mac("02:00:00:00:00:99").data(), 6);
  cfg.gateway_set = 1;
  cfg.src4_prefix = htonl(0xac100000);  // 172.16.0.0/12
  cfg.src4_hostmask = htonl(0x000fffff);
  auto p6 = ip6("fd00:df::");
  std::memcpy(cfg.src6_prefix, p6.data(), 16);
  cfg.src6_hostmask = 0xffffffff;  // fd00:df::/96
}

BalancerHarness::~BalancerHarness() {
  if (rings_) munmap(rings_, rings_len_);
  balancer_bpf__destroy(skel_);
}

uint32_t BalancerHarness::add_vip(const std::string& addr, uint16_t port, uint8_t proto,
                                  uint32_t flags) {
  Vip v{};
  fill_addr(v.key.addr, &v.key.family, addr);
  v.key.port = htons(port);
  v.key.proto = proto;
  v.meta.vip_id = vips_.size();
  v.meta.flags = flags;
  v.meta.ring_slot = v.meta.vip_id * DF_RINGS_PER_VIP;
  check(bpf_map_update_elem(bpf_map__fd(skel_->maps.vips), &v.key, &v.meta, BPF_ANY), "add vip");
  df_vip_addr_key ak{};
  std::memcpy(ak.addr, v.key.addr, 16);
  ak.family = v.key.family;
  uint32_t one = 1;
  check(bpf_map_update_elem(bpf_map__fd(skel_->maps.vip_addrs), &ak, &one, BPF_ANY),
        "add vip addr");
  vips_.push_back(v);
  return v.meta.vip_id;
}

void BalancerHarness::add_real(uint32_t id, const std::string& addr) {
  df_real r{};
  fill_addr(r.addr, &r.family, addr);
  check(bpf_map_update_elem(bpf_map__fd(skel_->maps.reals), &id, &r, BPF_ANY), "add real");
}

void BalancerHarness::remove_real(uint32_t id) {
  df_real r{};
  check(bpf_map_update_elem(bpf_map__fd(skel_->maps.reals), &id, &r, BPF_ANY), "remove real");
}

void BalancerHarness::set_ring(uint32_t vip_id, const std::vector<uint32_t>& ids) {
  Vip& v = vips_.at(vip_id);
  uint32_t next = v.meta.vip_id * DF_RINGS_PER_VIP +
                  (v.meta.ring_slot % DF_RINGS_PER_VIP == 0 ? 1 : 0);
  constexpr size_t stride = DF_RING_MMAP_STRIDE / sizeof(uint32_t);
  uint32_t* ring = rings_ + size_t(next) * kTestRingSize * stride;
  for (uint32_t i = 0; i < kTestRingSize; i++)
    ring[i * stride] = ids.empty() ? 0 : ids[i % ids.size()];
  v.meta.ring_slot = next;
  check(bpf_map_update_elem(bpf_map__fd(skel_->maps.vips), &v.key, &v.meta, BPF_ANY),
        "publish ring");
}

df_config& BalancerHarness::config() {
  return const_cast<df_config&>(skel_->bss->df_cfg);
}

RunResult BalancerHarness::run(const Bytes& frame) {
  Bytes in = frame;
  Bytes out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = out.data(),
              .data_size_in = (__u32)in.size(), .data_size_out = (__u32)out.size(), .repeat = 1);
  check(bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.balancer), &opts), "test_run");
  out.resize(opts.data_size_out);
  return {static_cast<int>(opts.retval), out};
}

df_global_stats BalancerHarness::global_stats() const {
  return sum_percpu<df_global_stats>(bpf_map__fd(skel_->maps.global_stats), 0);
}

df_counter BalancerHarness::vip_stats(uint32_t vip_id) const {
  return sum_percpu<df_counter>(bpf_map__fd(skel_->maps.vip_stats), vip_id);
}

df_counter BalancerHarness::real_stats(uint32_t real_id) const {
  return sum_percpu<df_counter>(bpf_map__fd(skel_->maps.real_stats), real_id);
}

bool BalancerHarness::conn_lookup(const df_flow_key& key, df_conn* out) const {
  return bpf_map_lookup_elem(bpf_map__fd(skel_->maps.conn_table), &key, out) == 0;
}

void BalancerHarness::conn_update(const df_flow_key& key, const df_conn& value) {
  check(bpf_map_update_elem(bpf_map__fd(skel_->maps.conn_table), &key, &value, BPF_EXIST),
        "conn update");
}

size_t BalancerHarness::conn_count() const {
  int fd = bpf_map__fd(skel_->maps.conn_table);
  df_flow_key key{}, next{};
  size_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    n++;
    key = next;
    prev = &key;
  }
  return n;
}

df_flow_key flow_key(const std::string& src, uint16_t sport, const std::string& dst,
                     uint16_t dport, uint8_t proto) {
  df_flow_key k{};
  uint8_t family;
  fill_addr(k.src, &family, src);
  fill_addr(k.vip.addr, &k.vip.family, dst);
  k.sport = htons(sport);
  k.vip.port = htons(dport);
  k.vip.proto = proto;
  return k;
}

}  // namespace dogfish::testing
