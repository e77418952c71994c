#include "katran_target.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "dogfish/base/address.hpp"
#include "dogfish/base/errors.hpp"

namespace dogfish::bench {
namespace {

// Katran's constants that its BTF does not carry (katran/lib/bpf/balancer_consts.h):
// indices past MAX_VIPS in its `stats` map, a real's IPv6 flag.
constexpr uint32_t kLruCntrs = 0;       // v1: packets that reached the LRU, v2: LRU misses
constexpr uint32_t kLruMissCntr = 1;    // v1: TCP SYN misses, v2: TCP non-SYN misses
constexpr uint32_t kNewConnRate = 2;    // its flood guard: v1 new flows this second, v2 since when
constexpr uint32_t kXdpTxCntr = 17;     // v1: packets sent
constexpr uint32_t kXdpPassCntr = 19;   // v1: packets passed
constexpr uint32_t kXdpTotalCntr = 16;  // v1: packets seen
constexpr uint8_t kRealIpv6 = 1;        // F_IPV6

// Katran's failures say so.
void check(int ret, const std::string& what) { check_call(ret, "katran: " + what); }

IpAddress addr(const char* text) { return *IpAddress::parse(text); }

// A struct of the object's BTF: its size, and where a named member sits, looking
// through anonymous unions and structs (Katran keeps v4 and v6 addresses in one).
class BtfStruct {
 public:
  BtfStruct(const btf* b, const char* name) : btf_(b), name_(name) {
    int id = btf__find_by_name_kind(b, name, BTF_KIND_STRUCT);
    if (id < 0) throw std::runtime_error(fmt::format("katran: no struct {} in its BTF", name));
    id_ = id;
  }
  size_t size() const { return btf__resolve_size(btf_, id_); }
  size_t offset(const char* member) const {
    long off = find(id_, member, 0);
    if (off < 0)
      throw std::runtime_error(fmt::format("katran: struct {} has no member {}", name_, member));
    return off;
  }
  // A zeroed value of this struct, filled field by field with put().
  std::vector<uint8_t> blank() const { return std::vector<uint8_t>(size()); }
  template <typename T>
  void put(std::vector<uint8_t>& v, const char* member, const T& value) const {
    std::memcpy(v.data() + offset(member), &value, sizeof(value));
  }
  void put_bytes(std::vector<uint8_t>& v, const char* member, const void* p, size_t n) const {
    std::memcpy(v.data() + offset(member), p, n);
  }

 private:
  long find(uint32_t type_id, const char* member, long base) const {
    const btf_type* t = btf__type_by_id(btf_, btf__resolve_type(btf_, type_id));
    if (!btf_is_composite(t)) return -1;
    const btf_member* m = btf_members(t);
    for (int i = 0; i < btf_vlen(t); i++, m++) {
      long at = base + btf_member_bit_offset(t, i) / 8;
      const char* n = btf__name_by_offset(btf_, m->name_off);
      if (n && *n && std::strcmp(n, member) == 0) return at;
      if (!n || !*n) {
        long inner = find(m->type, member, at);
        if (inner >= 0) return inner;
      }
    }
    return -1;
  }

  const btf* btf_;
  const char* name_;
  uint32_t id_;
};

struct LbStats {
  uint64_t v1, v2;
};

}  // namespace

KatranTarget::KatranTarget(const std::string& object_path, const std::string& prog_name,
                           uint32_t conn_entries) {
  obj_ = bpf_object__open_file(object_path.c_str(), nullptr);
  if (!obj_) throw OsError(errno, "katran: opening " + object_path);
  try {
    bpf_program* prog = bpf_object__find_program_by_name(obj_, prog_name.c_str());
    if (!prog) throw std::runtime_error("katran: no program " + prog_name + " in " + object_path);
    // Only the program under test: the object may carry others the bench has no use for.
    bpf_program* p;
    bpf_object__for_each_program(p, obj_) bpf_program__set_autoload(p, p == prog);
    check(bpf_object__load(obj_), "loading " + object_path);
    prog_fd_ = bpf_program__fd(prog);
    bpf_map* stats = bpf_object__find_map_by_name(obj_, "stats");
    if (!stats) throw std::runtime_error("katran: no stats map");
    max_vips_ = bpf_map__max_entries(stats) / 2;
    int ncpu = libbpf_num_possible_cpus();
    check(ncpu, "counting CPUs");
    create_lrus(conn_entries / ncpu);
    configure();
  } catch (...) {
    for (int fd : lru_fds_) close(fd);
    bpf_object__close(obj_);
    throw;
  }
}

KatranTarget::~KatranTarget() {
  for (int fd : lru_fds_) close(fd);
  bpf_object__close(obj_);
}

int KatranTarget::map_fd(const char* name) const {
  int fd = bpf_object__find_map_fd_by_name(obj_, name);
  if (fd < 0) throw std::runtime_error(fmt::format("katran: no map {}", name));
  return fd;
}

// One plain LRU hash per CPU in lru_mapping, as Katran's loader makes them
// (no flags: each map's own LRU lists are shared by nobody).
void KatranTarget::create_lrus(uint32_t per_cpu) {
  const btf* b = bpf_object__btf(obj_);
  BtfStruct key(b, "flow_key"), value(b, "real_pos_lru");
  int outer = map_fd("lru_mapping");
  int ncpu = libbpf_num_possible_cpus();
  for (int cpu = 0; cpu < ncpu; cpu++) {
    int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "katran_lru", key.size(), value.size(), per_cpu,
                            nullptr);
    check(fd, fmt::format("creating the LRU of CPU {} ({} entries)", cpu, per_cpu));
    lru_fds_.push_back(fd);
    uint32_t k = cpu;
    check(bpf_map_update_elem(outer, &k, &fd, BPF_ANY), "lru_mapping");
  }
}

void KatranTarget::configure() {
  const btf* b = bpf_object__btf(obj_);
  BtfStruct vip_def(b, "vip_definition"), vip_meta(b, "vip_meta"), real_def(b, "real_definition");
  BtfStruct ctl(b, "ctl_value");
  using S = Service;

  const IpAddress reals[] = {addr(S::real4[0]), addr(S::real4[1]), addr(S::real6[0]),
                             addr(S::real6[1])};
  for (uint32_t id = 1; id <= 4; id++) {
    const IpAddress& a = reals[id - 1];
    auto v = real_def.blank();
    real_def.put_bytes(v, a.is_v4() ? "dst" : "dstv6", a.bytes.data(), a.size());
    real_def.put(v, "flags", uint8_t(a.is_v6() ? kRealIpv6 : 0));
    check(bpf_map_update_elem(map_fd("reals"), &id, v.data(), BPF_ANY), "reals");
  }

  // Rings as the bench gives dogfish: vip_num n's ring alternates between two reals.
  write_ring(0, 1, 2);
  write_ring(1, 1, 2);
  write_ring(2, 3, 4);

  auto vip = [&](const char* text, uint16_t port, uint8_t proto, uint32_t vip_num) {
    const IpAddress a = addr(text);
    auto k = vip_def.blank();
    vip_def.put_bytes(k, a.is_v4() ? "vip" : "vipv6", a.bytes.data(), a.size());
    vip_def.put(k, "port", htons(port));
    vip_def.put(k, "proto", proto);
    auto m = vip_meta.blank();
    vip_meta.put(m, "vip_num", vip_num);
    check(bpf_map_update_elem(map_fd("vip_map"), k.data(), m.data(), BPF_ANY), "vip_map");
  };
  vip(S::vip4, S::tcp_port, IPPROTO_TCP, 0);
  vip(S::vip4, S::udp_port, IPPROTO_UDP, 1);
  vip(S::vip6, S::tcp_port, IPPROTO_TCP, 2);

  auto mac = ctl.blank();
  ctl.put_bytes(mac, "mac", S::gateway_mac, 6);
  uint32_t zero = 0;
  check(bpf_map_update_elem(map_fd("ctl_array"), &zero, mac.data(), BPF_ANY), "ctl_array");
}

void KatranTarget::write_ring(uint32_t vip_num, uint32_t a, uint32_t b) {
  int fd = map_fd("ch_rings");
  for (uint32_t i = 0; i < Service::ring_size; i++) {
    uint32_t k = vip_num * Service::ring_size + i, id = i % 2 ? b : a;
    check(bpf_map_update_elem(fd, &k, &id, BPF_ANY), "ch_rings");
  }
}

// The IPv4 TCP VIP is vip_num 0; Katran reads its ring in place.
void KatranTarget::point_ring_at(uint32_t real_id) { write_ring(0, real_id, real_id); }

std::vector<size_t> KatranTarget::table_entries() const {
  std::vector<size_t> n;
  for (int fd : lru_fds_) n.push_back(map_entries(fd));
  return n;
}

// Katran stops remembering new flows above 125k a second per CPU; the warm-up
// packet of a hit path must be remembered, whatever ran before it.
void KatranTarget::before_warm(PathKind kind) {
  if (kind == PathKind::table_hit || kind == PathKind::udp_hit || kind == PathKind::v6_hit)
    reset_guard();
}

void KatranTarget::reset_guard() {
  std::vector<LbStats> zero(libbpf_num_possible_cpus());
  uint32_t k = max_vips_ + kNewConnRate;
  check(bpf_map_update_elem(map_fd("stats"), &k, zero.data(), BPF_ANY), "resetting its guard");
}

uint64_t KatranTarget::table_bytes() const {
  uint64_t n = 0;
  for (int fd : lru_fds_) n += map_memlock(fd);
  return n;
}

std::vector<std::string> KatranTarget::counter_names() const {
  return {"total", "tx", "pass", "lru_seen", "lru_miss", "syn_miss", "nonsyn_miss"};
}

Counts KatranTarget::counters() const {
  const int fd = map_fd("stats");
  std::vector<LbStats> per_cpu(libbpf_num_possible_cpus());
  auto sum = [&](uint32_t global) {
    uint32_t k = max_vips_ + global;
    LbStats s{};
    check(bpf_map_lookup_elem(fd, &k, per_cpu.data()), "reading stats");
    for (const LbStats& c : per_cpu) {
      s.v1 += c.v1;
      s.v2 += c.v2;
    }
    return s;
  };
  const LbStats lru = sum(kLruCntrs), miss = sum(kLruMissCntr);
  return {sum(kXdpTotalCntr).v1,
          sum(kXdpTxCntr).v1,
          sum(kXdpPassCntr).v1,
          lru.v1,
          lru.v2,
          miss.v1,
          miss.v2};
}

// dogfish's ICMP paths are not timed on Katran: its ICMP handling is a build-time choice of its
// own. Nor the any-port VIP: Katran's needs a per-address flag this target does not set.
bool KatranTarget::handles(PathKind kind) const {
  switch (kind) {
    case PathKind::icmp_echo:
    case PathKind::v6_icmp_echo:
    case PathKind::too_big:
    case PathKind::v6_too_big:
    case PathKind::icmp_to_real:
    case PathKind::any_port_hit:  // Katran's port-0 VIPs take a flag per address: not set up
    case PathKind::prefix_hit:    // Katran has no prefix VIPs
    case PathKind::gue_hit:       // Katran's GUE is a build flag of its object: not set up
    case PathKind::v6_gue_hit:
      return false;
    default:
      return true;
  }
}

std::vector<int64_t> KatranTarget::expect(PathKind kind) const {
  //        total tx pass lru_seen lru_miss syn_miss nonsyn_miss
  switch (kind) {
    case PathKind::syn_fixed:
    case PathKind::syn_random:
    case PathKind::v6_syn:
      return {1, 1, 0, 1, 1, 1, 0};
    case PathKind::table_hit:
    case PathKind::udp_hit:
    case PathKind::v6_hit:
      return {1, 1, 0, 1, 0, 0, 0};
    case PathKind::nonsyn_miss:
      return {1, 1, 0, 1, 1, 0, 1};
    case PathKind::udp_random:
      return {1, 1, 0, 1, 1, 0, 0};
    case PathKind::not_vip:
      return {1, 0, 1, 0, 0, 0, 0};
    default:  // not handled()
      break;
  }
  return {};
}

}  // namespace dogfish::bench
