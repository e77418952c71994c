#include "balancer_harness.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "dogfish/base/address.hpp"
#include "dogfish/df_structs.hpp"
#include "frames.hpp"

namespace dogfish::testing {
namespace {

void fill_addr(uint8_t* dst, uint8_t* family, const std::string& addr) {
  auto a = IpAddress::parse(addr);
  if (!a) throw std::invalid_argument("not an address: " + addr);
  std::memcpy(dst, a->bytes.data(), 16);
  *family = a->family;
}

}  // namespace

BalancerHarness::BalancerHarness()
    : dp_(std::make_unique<BpfDataPlane>(BpfDataPlaneOptions{
          .limits = {
              .ring_size = kTestRingSize, .max_vips = 8, .max_reals = 64, .conn_entries = 1024}})) {
  df_config cfg{};
  std::memcpy(cfg.gateway_mac, mac("02:00:00:00:00:99").data(), 6);
  cfg.gateway_set = 1;
  cfg.src4_prefix = htonl(0xac100000);  // 172.16.0.0/12
  cfg.src4_hostmask = htonl(0x000fffff);
  auto p6 = ip6("fd00:df::");
  std::memcpy(cfg.src6_prefix, p6.data(), 16);
  cfg.src6_hostmask = 0xffffffff;  // fd00:df::/96
  cfg.gue_port = htons(DF_DEFAULT_GUE_PORT);
  dp_->set_config(cfg);
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
  dp_->put_vip(v.key, v.meta);
  df_vip_addr_key ak{};
  std::memcpy(ak.addr, v.key.addr, 16);
  ak.family = v.key.family;
  dp_->put_vip_addr(ak);
  vips_.push_back(v);
  return v.meta.vip_id;
}

uint32_t BalancerHarness::add_prefix_vip(const std::string& prefix, uint16_t port, uint8_t proto,
                                         uint32_t flags) {
  auto p = IpPrefix::parse(prefix);
  if (!p) throw std::invalid_argument("not a prefix: " + prefix);
  Vip v{};
  v.prefix = to_df_prefix_key({p->address, port, static_cast<Proto>(proto), p->length});
  v.meta.vip_id = vips_.size();
  v.meta.flags = flags;
  v.meta.ring_slot = v.meta.vip_id * DF_RINGS_PER_VIP;
  put(v);
  dp_->put_vip_addr_prefix(to_df_addr_prefix_key(*p));
  vips_.push_back(v);
  return v.meta.vip_id;
}

void BalancerHarness::put(const Vip& v) {
  v.prefix ? dp_->put_vip_prefix(*v.prefix, v.meta) : dp_->put_vip(v.key, v.meta);
}

void BalancerHarness::remove_vip(uint32_t vip_id) {
  const Vip& v = vips_.at(vip_id);
  v.prefix ? dp_->delete_vip_prefix(*v.prefix) : dp_->delete_vip(v.key);
}

void BalancerHarness::set_vip_flags(uint32_t vip_id, uint32_t flags) {
  Vip& v = vips_.at(vip_id);
  v.meta.flags = flags;
  put(v);
}

void BalancerHarness::add_real(uint32_t id, const std::string& addr, uint8_t encap) {
  df_real r{.encap = encap};
  fill_addr(r.addr, &r.family, addr);
  dp_->put_real(id, r);
}

void BalancerHarness::remove_real(uint32_t id) { dp_->put_real(id, df_real{}); }

void BalancerHarness::add_probe_real(uint32_t slot, const std::string& addr, uint8_t encap) {
  df_real r{.encap = encap};
  fill_addr(r.addr, &r.family, addr);
  dp_->put_probe_real(slot, r);
}

void BalancerHarness::set_ring(uint32_t vip_id, const std::vector<uint32_t>& ids) {
  Vip& v = vips_.at(vip_id);
  uint32_t next =
      v.meta.vip_id * DF_RINGS_PER_VIP + (v.meta.ring_slot % DF_RINGS_PER_VIP == 0 ? 1 : 0);
  std::vector<uint32_t> ring(kTestRingSize, DF_REAL_NONE);
  for (uint32_t i = 0; i < kTestRingSize && !ids.empty(); i++) ring[i] = ids[i % ids.size()];
  dp_->write_ring(next, ring);
  v.meta.ring_slot = next;
  put(v);
}

namespace {

RunResult test_run(int prog_fd, const Bytes& frame, __sk_buff* skb) {
  Bytes in = frame;
  Bytes out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in.data(), .data_out = out.data(),
              .data_size_in = (__u32)in.size(), .data_size_out = (__u32)out.size(), .ctx_in = skb,
              .ctx_size_in = skb ? (__u32)sizeof(*skb) : 0u, .repeat = 1);
  if (int err = bpf_prog_test_run_opts(prog_fd, &opts))
    throw std::runtime_error(std::string("BPF_PROG_TEST_RUN: ") + std::strerror(-err));
  out.resize(opts.data_size_out);
  return {static_cast<int>(opts.retval), out};
}

}  // namespace

RunResult BalancerHarness::run(const Bytes& frame) {
  return test_run(dp_->prog_fd(), frame, nullptr);
}

RunResult BalancerHarness::run_probe(const Bytes& frame, uint32_t mark) {
  __sk_buff skb{};
  skb.mark = mark;
  return test_run(dp_->probe_prog_fd(), frame, &skb);
}

bool BalancerHarness::conn_lookup(const df_flow_key& key, df_conn* out) const {
  return bpf_map_lookup_elem(dp_->conn_table_fd(), &key, out) == 0;
}

void BalancerHarness::conn_update(const df_flow_key& key, const df_conn& value) {
  if (bpf_map_update_elem(dp_->conn_table_fd(), &key, &value, BPF_EXIST) != 0)
    throw std::runtime_error(std::string("conn_table update: ") + std::strerror(errno));
}

size_t BalancerHarness::conn_count() const {
  df_flow_key key{}, next{};
  size_t n = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(dp_->conn_table_fd(), prev, &next) == 0) {
    n++;
    key = next;
    prev = &key;
  }
  return n;
}

int BalancerHarness::map_fd(const std::string& name) const {
  bpf_prog_info info{};
  uint32_t ids[64] = {}, len = sizeof(info);
  info.nr_map_ids = 64;
  info.map_ids = reinterpret_cast<uintptr_t>(ids);
  if (bpf_obj_get_info_by_fd(dp_->prog_fd(), &info, &len) != 0)
    throw std::runtime_error(std::string("program info: ") + std::strerror(errno));
  for (uint32_t i = 0; i < info.nr_map_ids && i < 64; i++) {
    int fd = bpf_map_get_fd_by_id(ids[i]);
    bpf_map_info m{};
    uint32_t mlen = sizeof(m);
    if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &m, &mlen) == 0 && name == m.name) {
      map_fds_.push_back(fd);
      return fd;
    }
    if (fd >= 0) close(fd);
  }
  return -1;
}

BalancerHarness::~BalancerHarness() {
  for (int fd : map_fds_) close(fd);
}

uint32_t add_tcp80_two_reals(BalancerHarness& lb) {
  uint32_t vip = lb.add_vip(kVip4, 80, IPPROTO_TCP);
  lb.add_real(1, kReal4a);
  lb.add_real(2, kReal4b);
  lb.set_ring(vip, {1});
  return vip;
}

void expect_untouched(BalancerHarness& lb, const Bytes& frame, int verdict, df_reason reason) {
  const df_global_stats before = lb.global_stats();
  const RunResult r = lb.run(frame);
  EXPECT_EQ(r.verdict, verdict);
  const std::string diff = describe_mismatch(frame, r.frame);
  EXPECT_TRUE(diff.empty()) << diff;
  const df_global_stats after = lb.global_stats();
  for (int i = 0; i < DF_REASON_MAX; i++)
    EXPECT_EQ(after.reason[i] - before.reason[i], i == reason ? 1u : 0u) << "reason " << i;
  EXPECT_EQ(lb.conn_count(), 0u);
}

df_flow_key flow_key(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                     uint8_t proto) {
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
