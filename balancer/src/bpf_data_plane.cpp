#include "dogfish/bpf_data_plane.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/xdp.hpp"

namespace dogfish {
namespace {

int check_bpf(int ret, const std::string& what) {
  if (ret < 0) throw OsError(-ret, what);
  return ret;
}

void put(const bpf_map* map, const void* key, const void* value, const char* what) {
  check_bpf(bpf_map_update_elem(bpf_map__fd(map), key, value, BPF_ANY), what);
}

// True when the key was there.
bool erase(const bpf_map* map, const void* key, const char* what) {
  if (bpf_map_delete_elem(bpf_map__fd(map), key) == 0) return true;
  if (errno != ENOENT) throw OsError(errno, what);
  return false;
}

template <typename T>
T sum_over_cpus(int fd, uint32_t key, std::vector<T>& scratch) {
  T total{};
  if (bpf_map_lookup_elem(fd, &key, scratch.data()) != 0) return total;
  for (const T& v : scratch) {
    const auto* in = reinterpret_cast<const uint64_t*>(&v);
    auto* out = reinterpret_cast<uint64_t*>(&total);
    for (size_t i = 0; i < sizeof(T) / sizeof(uint64_t); i++) out[i] += in[i];
  }
  return total;
}

// The stateful maps, pinned under the pin directory by these names (".bss" holds df_cfg).
struct PinnedMap {
  const char* map;
  const char* file;
};
constexpr PinnedMap kPinnedMaps[] = {
    {"vips", "vips"},
    {"vip_gen", "vip_gen"},  // a program left attached sees its successor's VIP writes
    {"vip_addrs", "vip_addrs"},
    {"vip_prefixes", "vip_prefixes"},
    {"vip_addr_pfxs", "vip_addr_pfxs"},
    {"reals", "reals"},
    {"rings", "rings"},
    {"conn_table", "conn_table"},
    {"syn_recs", "syn_recs"},  // handshakes in flight keep their real across a restart
    {"conn_guard", "conn_guard"},
    {"vip_stats", "vip_stats"},
    {"real_stats", "real_stats"},
    {"vip_real_stats", "vip_real_stats"},
    {"global_stats", "global_stats"},
    {".bss", "config"},
};
constexpr const char* kAbiPin = "abi";
// User space's own map: when each freed real id was freed (the id quarantine).
constexpr const char* kFreedRealsPin = "real_freed";

// The ELF bytes of --bpf-object, read before the skeleton opens them; kept for the process's
// life (libbpf reads them until the object is loaded).
std::string object_bytes;

// The skeleton's own open, with the file's bytes in place of the built-in ones: the skeleton
// then binds the file's maps and programs by name, so a file without them fails here.
balancer_bpf* open_object_file() {
  auto* obj = static_cast<balancer_bpf*>(calloc(1, sizeof(balancer_bpf)));
  if (!obj) return nullptr;
  int err = balancer_bpf__create_skeleton(obj);
  if (!err) {
    obj->skeleton->data = object_bytes.data();
    obj->skeleton->data_sz = object_bytes.size();
    err = bpf_object__open_skeleton(obj->skeleton, nullptr);
  }
  if (err) {
    balancer_bpf__destroy(obj);
    errno = -err;
    return nullptr;
  }
  return obj;
}

Skeleton<balancer_bpf>::Ops skeleton_ops(const std::string& object_file) {
  if (object_file.empty()) return {balancer_bpf__open, balancer_bpf__load, balancer_bpf__destroy};
  std::ifstream in(object_file, std::ios::binary);
  if (!in) throw OsError(errno, "reading BPF object " + object_file);
  std::stringstream bytes;
  bytes << in.rdbuf();
  object_bytes = bytes.str();
  return {open_object_file, balancer_bpf__load, balancer_bpf__destroy};
}

// Refuses maps pinned by a build of another ABI, before libbpf would reuse them.
void check_pinned_abi(const std::string& pin_dir) {
  const AbiStamp ours = this_abi();
  const std::optional<AbiStamp> theirs = pinned_abi(pin_dir);
  if (theirs == ours) return;
  const std::string what =
      theirs ? fmt::format("ABI version {} (layout {:08x})", theirs->version, theirs->layout)
             : std::string("no ABI stamp (made by a build older than the stamps)");
  throw AbiMismatch(fmt::format(
      "the maps pinned in {} have {}, this dogfish has ABI version {} (layout {:08x}): it cannot "
      "adopt them. Take the old data plane down first (`dogfish teardown --pin-dir {}` with the "
      "interface; every connection then re-hashes), or start the dogfish that made them",
      pin_dir, what, ours.version, ours.layout, pin_dir));
}

// The stamp of a fresh pin directory: a one-entry array the data plane never reads.
void pin_abi(const std::string& pin_dir) {
  const AbiStamp stamp = this_abi();
  UniqueFd fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "dogfish_abi", sizeof(std::uint32_t),
                             sizeof(AbiStamp), 1, nullptr));
  if (!fd) throw OsError(errno, "creating the ABI stamp map");
  const std::uint32_t zero = 0;
  check_bpf(bpf_map_update_elem(fd.get(), &zero, &stamp, BPF_ANY), "writing the ABI stamp");
  check_bpf(bpf_obj_pin(fd.get(), (pin_dir + "/" + kAbiPin).c_str()), "pinning the ABI stamp");
}

}  // namespace

TcSlot probe_encap_slot(int ifindex) {
  return {.ifindex = ifindex, .direction = TcDirection::egress, .handle = 0xdf, .priority = 1};
}

std::vector<std::string> balancer_pin_names() {
  std::vector<std::string> names;
  for (const PinnedMap& p : kPinnedMaps) names.emplace_back(p.file);
  names.emplace_back(kFreedRealsPin);
  names.emplace_back(kAbiPin);
  return names;
}

AbiStamp this_abi() {
  // Which maps are pinned is layout too: a build that pins another set shares them with no one.
  std::uint32_t layout = balancer_layout_fingerprint();
  for (const std::string& name : balancer_pin_names()) {
    for (char c : name) layout = fnv1a(layout, static_cast<unsigned char>(c));
    layout = fnv1a(layout, 0);
  }
  return {DF_ABI_VERSION, layout};
}

std::optional<AbiStamp> pinned_abi(const std::string& pin_dir) {
  UniqueFd fd(bpf_obj_get((pin_dir + "/" + kAbiPin).c_str()));
  if (!fd) return std::nullopt;
  bpf_map_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0 || info.value_size != sizeof(AbiStamp))
    return AbiStamp{};  // something else sits there: matches no build
  AbiStamp stamp;
  const std::uint32_t zero = 0;
  if (bpf_map_lookup_elem(fd.get(), &zero, &stamp) != 0) return AbiStamp{};
  return stamp;
}

BpfDataPlane::BpfDataPlane(const BpfDataPlaneOptions& options)
    : options_(options), skel_(skeleton_ops(options.object_file)) {
  const DataPlaneLimits& l = options_.limits;
  if (l.ring_size < 2 || l.max_vips == 0 || l.max_reals < 2 || l.conn_entries == 0)
    throw Error("data plane limits must be positive (ring size at least 2)");
  uint64_t ring_entries = uint64_t(l.max_vips) * DF_RINGS_PER_VIP * l.ring_size;
  if (ring_entries > UINT32_MAX)
    throw Error("max VIPs x ring size is too large for one ring array");

  skel_->rodata->ring_size = l.ring_size;
  check_bpf(bpf_map__set_max_entries(skel_->maps.vips, l.max_vips), "sizing vips");
  check_bpf(bpf_map__set_max_entries(skel_->maps.vip_prefixes, l.max_vips), "sizing vip_prefixes");
  check_bpf(bpf_map__set_max_entries(skel_->maps.vip_stats, l.max_vips), "sizing vip_stats");
  check_bpf(bpf_map__set_max_entries(skel_->maps.reals, l.max_reals), "sizing reals");
  check_bpf(bpf_map__set_max_entries(skel_->maps.real_stats, l.max_reals), "sizing real_stats");
  const bool pairs = keeps_vip_real_stats(l);
  skel_->rodata->vip_real_stride = pairs ? l.max_reals : 0;
  check_bpf(
      bpf_map__set_max_entries(skel_->maps.vip_real_stats, pairs ? l.max_vips * l.max_reals : 1),
      "sizing vip_real_stats");
  check_bpf(bpf_map__set_max_entries(skel_->maps.probe_reals, l.max_reals), "sizing probe_reals");
  check_bpf(bpf_map__set_max_entries(skel_->maps.conn_table, l.conn_entries), "sizing conn_table");
  check_bpf(bpf_map__set_max_entries(skel_->maps.rings, uint32_t(ring_entries)), "sizing rings");

  if (!options_.pin_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(options_.pin_dir, ec);
    if (ec) throw OsError(ec.value(), "creating pin directory " + options_.pin_dir);
    adopted_ = std::filesystem::exists(options_.pin_dir + "/conn_table");
    if (adopted_) check_pinned_abi(options_.pin_dir);
    for (const PinnedMap& p : kPinnedMaps) {
      bpf_map* map = bpf_object__find_map_by_name(skel_->obj, p.map);
      if (!map) throw Error(fmt::format("the BPF object has no map '{}'", p.map));
      check_bpf(bpf_map__set_pin_path(map, (options_.pin_dir + "/" + p.file).c_str()),
                std::string("pin path for ") + p.file);
    }
  }

  skel_.load(adopted_ ? "loading the balancer over the maps pinned in " + options_.pin_dir +
                            " (sizes changed? unpin them first)"
                      : "loading the balancer BPF program");
  if (!options_.pin_dir.empty() && !adopted_) pin_abi(options_.pin_dir);

  open_freed_reals();

  rings_len_ = ring_entries * DF_RING_MMAP_STRIDE;
  void* m = mmap(nullptr, rings_len_, PROT_READ | PROT_WRITE, MAP_SHARED,
                 bpf_map__fd(skel_->maps.rings), 0);
  if (m == MAP_FAILED) throw OsError(errno, "mapping the ring array");
  rings_ = static_cast<uint8_t*>(m);
}

BpfDataPlane::~BpfDataPlane() {
  if (!released_) {
    try {
      detach();
    } catch (const std::exception&) {
      // The interface may be gone already; nothing is left to undo.
    }
  }
  if (rings_) munmap(rings_, rings_len_);
}

int BpfDataPlane::prog_fd() const { return bpf_program__fd(skel_->progs.balancer); }

int BpfDataPlane::probe_prog_fd() const { return bpf_program__fd(skel_->progs.probe_encap); }

int BpfDataPlane::conn_table_fd() const { return bpf_map__fd(skel_->maps.conn_table); }

std::uint32_t BpfDataPlane::prog_id() const {
  bpf_prog_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd(), &info, &len) != 0) return 0;
  return info.id;
}

std::string BpfDataPlane::prog_tag() const {
  bpf_prog_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd(), &info, &len) != 0) return "";
  std::string tag;
  for (std::uint8_t b : info.tag) tag += fmt::format("{:02x}", b);
  return tag;
}

bool BpfDataPlane::uses_our_maps(std::uint32_t id) const {
  bpf_map_info info{};
  std::uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(conn_table_fd(), &info, &len) != 0) return false;
  const std::vector<std::uint32_t> ids = bpf_program_map_ids(id);
  return std::find(ids.begin(), ids.end(), info.id) != ids.end();
}

XdpMode BpfDataPlane::attach(const std::string& ifname, XdpMode mode, bool replace_foreign) {
  const int ifindex = ifindex_of(ifname);
  XdpReplace replace = XdpReplace::nothing();
  if (std::optional<XdpProgram> there = xdp_program_on(ifindex)) {
    if (uses_our_maps(there->id)) {
      replace = XdpReplace::program(there->id);
    } else if (replace_foreign) {
      log_warn("replacing the XDP program {} on {}, as asked", describe(*there), ifname);
      replace = XdpReplace::program(there->id);
    } else {
      throw XdpBusy(ifname, *there);
    }
  }
  attached_mode_ = attach_xdp(ifname, prog_fd(), mode, replace);
  ifindex_ = ifindex;
  ifname_ = ifname;
  attach_tc(probe_encap_slot(ifindex_), probe_prog_fd(), "'" + ifname + "'");
  return attached_mode_;
}

void BpfDataPlane::detach() {
  if (!ifindex_) return;
  // Only our own programs: a successor may have replaced them already.
  int ifindex = std::exchange(ifindex_, 0);
  detach_tc(probe_encap_slot(ifindex), "'" + ifname_ + "'", probe_prog_fd());
  detach_xdp(ifindex, attached_mode_, prog_fd());
}

void BpfDataPlane::open_freed_reals() {
  // User space's alone (the program never reads it), so not in the BPF object: a map of
  // its own, pinned beside the others so that it lives as long as they do.
  std::string pin = options_.pin_dir.empty() ? "" : options_.pin_dir + "/" + kFreedRealsPin;
  if (adopted_ && std::filesystem::exists(pin)) {
    freed_reals_.reset(check_bpf(bpf_obj_get(pin.c_str()), "opening " + pin));
    return;
  }
  freed_reals_.reset(check_bpf(bpf_map_create(BPF_MAP_TYPE_ARRAY, "df_real_freed", sizeof(uint32_t),
                                              sizeof(uint64_t), options_.limits.max_reals, nullptr),
                               "creating the freed real ids map"));
  if (!pin.empty()) check_bpf(bpf_obj_pin(freed_reals_.get(), pin.c_str()), "pinning " + pin);
}

void BpfDataPlane::set_real_freed_at(uint32_t id, uint64_t ns) {
  check_bpf(bpf_map_update_elem(freed_reals_.get(), &id, &ns, BPF_ANY),
            "writing when real id " + std::to_string(id) + " was freed");
}

std::vector<std::pair<uint32_t, uint64_t>> BpfDataPlane::read_freed_reals() const {
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (uint32_t id = 1; id < options_.limits.max_reals; id++) {
    uint64_t ns = 0;
    if (bpf_map_lookup_elem(freed_reals_.get(), &id, &ns) == 0 && ns != 0) out.emplace_back(id, ns);
  }
  return out;
}

void BpfDataPlane::unpin() {
  if (options_.pin_dir.empty()) return;
  unlink((options_.pin_dir + "/" + kFreedRealsPin).c_str());
  bpf_object__unpin_maps(skel_->obj, nullptr);
  unlink((options_.pin_dir + "/" + kAbiPin).c_str());
  rmdir(options_.pin_dir.c_str());
}

void BpfDataPlane::write_vip(const bpf_map* map, const void* key, const df_vip_meta& meta,
                             const char* what) {
  if (meta.vip_id >= options_.limits.max_vips)
    throw Error("vip id " + std::to_string(meta.vip_id) + " beyond max VIPs");
  put(map, key, &meta, what);
  vips_changed();
}

void BpfDataPlane::put_vip(const df_vip_key& key, const df_vip_meta& meta) {
  write_vip(skel_->maps.vips, &key, meta, "writing a VIP");
}

void BpfDataPlane::delete_vip(const df_vip_key& key) {
  if (erase(skel_->maps.vips, &key, "deleting a VIP")) vips_changed();
}

void BpfDataPlane::put_vip_prefix(const df_prefix_key& key, const df_vip_meta& meta) {
  write_vip(skel_->maps.vip_prefixes, &key, meta, "writing a prefix VIP");
}

void BpfDataPlane::delete_vip_prefix(const df_prefix_key& key) {
  if (erase(skel_->maps.vip_prefixes, &key, "deleting a prefix VIP")) vips_changed();
}

void BpfDataPlane::vips_changed() {
  // The program's per-CPU copies of the VIP map hold while this does (bpf/vip_cache.h).
  int fd = bpf_map__fd(skel_->maps.vip_gen);
  uint32_t zero = 0, gen = 0;
  check_bpf(bpf_map_lookup_elem(fd, &zero, &gen), "reading the VIP generation");
  gen++;
  check_bpf(bpf_map_update_elem(fd, &zero, &gen, BPF_ANY), "advancing the VIP generation");
}

void BpfDataPlane::put_vip_addr(const df_vip_addr_key& key) {
  const uint32_t one = 1;
  put(skel_->maps.vip_addrs, &key, &one, "writing a VIP address");
}

void BpfDataPlane::delete_vip_addr(const df_vip_addr_key& key) {
  erase(skel_->maps.vip_addrs, &key, "deleting a VIP address");
}

void BpfDataPlane::put_vip_addr_prefix(const df_prefix_key& key) {
  const uint32_t one = 1;
  put(skel_->maps.vip_addr_pfxs, &key, &one, "writing a VIP prefix");
}

void BpfDataPlane::delete_vip_addr_prefix(const df_prefix_key& key) {
  erase(skel_->maps.vip_addr_pfxs, &key, "deleting a VIP prefix");
}

void BpfDataPlane::put_real(uint32_t id, const df_real& real) {
  if (id == DF_REAL_NONE || id >= options_.limits.max_reals)
    throw Error("real id " + std::to_string(id) + " outside 1.." +
                std::to_string(options_.limits.max_reals - 1));
  check_bpf(bpf_map_update_elem(bpf_map__fd(skel_->maps.reals), &id, &real, BPF_ANY),
            "writing a real");
}

void BpfDataPlane::put_probe_real(uint32_t slot, const df_real& real) {
  if (slot >= options_.limits.max_reals)
    throw Error("probe slot " + std::to_string(slot) + " beyond max_reals " +
                std::to_string(options_.limits.max_reals));
  check_bpf(bpf_map_update_elem(bpf_map__fd(skel_->maps.probe_reals), &slot, &real, BPF_ANY),
            "writing a probe's real");
}

namespace {

void check_ring_number(uint32_t ring, const DataPlaneLimits& l) {
  if (ring >= l.max_vips * DF_RINGS_PER_VIP)
    throw Error("ring " + std::to_string(ring) + " beyond the ring array");
}

}  // namespace

void BpfDataPlane::write_ring(uint32_t ring, std::span<const uint32_t> real_ids) {
  const DataPlaneLimits& l = options_.limits;
  check_ring_number(ring, l);
  if (real_ids.size() != l.ring_size)
    throw Error("ring has " + std::to_string(real_ids.size()) + " slots, the program expects " +
                std::to_string(l.ring_size));
  uint8_t* base = rings_ + size_t(ring) * l.ring_size * DF_RING_MMAP_STRIDE;
  for (size_t i = 0; i < real_ids.size(); i++)
    std::memcpy(base + i * DF_RING_MMAP_STRIDE, &real_ids[i], sizeof(uint32_t));
}

std::vector<uint32_t> BpfDataPlane::read_ring(uint32_t ring) const {
  const DataPlaneLimits& l = options_.limits;
  check_ring_number(ring, l);
  const uint8_t* base = rings_ + size_t(ring) * l.ring_size * DF_RING_MMAP_STRIDE;
  std::vector<uint32_t> out(l.ring_size);
  for (size_t i = 0; i < out.size(); i++)
    std::memcpy(&out[i], base + i * DF_RING_MMAP_STRIDE, sizeof(uint32_t));
  return out;
}

void BpfDataPlane::set_config(const df_config& config) {
  // Field by field is fine: the program reads each on its own. A new gateway MAC
  // is written while the gateway is marked unset, so no frame leaves half-addressed.
  volatile df_config& live = skel_->bss->df_cfg;
  auto* live_mac = const_cast<uint8_t*>(live.gateway_mac);
  if (std::memcmp(live_mac, config.gateway_mac, 6) != 0) {
    live.gateway_set = 0;
    std::memcpy(live_mac, config.gateway_mac, 6);
  }
  live.max_pkt_size = config.max_pkt_size;
  live.icmp_off = config.icmp_off;
  live.udp_idle_ticks = config.udp_idle_ticks;
  live.conn_insert_rate = config.conn_insert_rate;
  live.gue_port = config.gue_port;
  live.src4_prefix = config.src4_prefix;
  live.src4_hostmask = config.src4_hostmask;
  live.src6_hostmask = config.src6_hostmask;
  std::memcpy(const_cast<uint8_t*>(live.src6_prefix), config.src6_prefix, 16);
  live.gateway_set = config.gateway_set;
}

std::size_t BpfDataPlane::forget_flows(const FlowFilter& forget) {
  // Batches walk the hash bucket by bucket, so flows the program adds or evicts
  // meanwhile do not make the walk start over (get_next_key would).
  int fd = conn_table_fd();
  constexpr uint32_t kBatch = 1024;
  std::vector<df_flow_key> keys(kBatch);
  std::vector<df_conn> values(kBatch);
  std::vector<df_flow_key> doomed;
  uint64_t in = 0, out = 0;  // the kernel's bucket cursor (a u32 for hash maps)
  for (bool first = true;; first = false) {
    uint32_t count = kBatch;
    int err = bpf_map_lookup_batch(fd, first ? nullptr : &in, &out, keys.data(), values.data(),
                                   &count, nullptr);
    if (err && err != -ENOENT) throw OsError(-err, "reading the connection table");
    for (uint32_t i = 0; i < count; i++)
      if (forget(keys[i], values[i])) doomed.push_back(keys[i]);
    if (err == -ENOENT) break;
    in = out;
  }
  std::size_t forgotten = 0;
  for (const df_flow_key& k : doomed) {
    if (bpf_map_delete_elem(fd, &k) == 0)
      forgotten++;
    else if (errno != ENOENT)  // evicted meanwhile: gone anyway
      throw OsError(errno, "deleting a connection-table entry");
  }
  return forgotten;
}

std::optional<df_conn> BpfDataPlane::find_flow(const df_flow_key& key) const {
  // A lookup from user space does not mark the entry used: asking keeps no flow alive.
  df_conn conn{};
  if (bpf_map_lookup_elem(conn_table_fd(), &key, &conn) == 0) return conn;
  if (errno != ENOENT) throw OsError(errno, "reading the connection table");
  return std::nullopt;
}

namespace {

// Every key of a hash map or trie, in the kernel's order.
template <typename K>
std::vector<K> keys_of(int fd) {
  std::vector<K> out;
  K key{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    out.push_back(next);
    key = next;
    prev = &key;
  }
  return out;
}

// Every entry of a hash map or trie; one deleted while it is read is left out.
template <typename K, typename V>
std::vector<std::pair<K, V>> entries_of(int fd) {
  std::vector<std::pair<K, V>> out;
  for (const K& key : keys_of<K>(fd)) {
    V value{};
    if (bpf_map_lookup_elem(fd, &key, &value) == 0) out.emplace_back(key, value);
  }
  return out;
}

}  // namespace

std::vector<std::pair<df_vip_key, df_vip_meta>> BpfDataPlane::read_vips() const {
  return entries_of<df_vip_key, df_vip_meta>(bpf_map__fd(skel_->maps.vips));
}

std::vector<df_vip_addr_key> BpfDataPlane::read_vip_addrs() const {
  return keys_of<df_vip_addr_key>(bpf_map__fd(skel_->maps.vip_addrs));
}

std::vector<std::pair<df_prefix_key, df_vip_meta>> BpfDataPlane::read_vip_prefixes() const {
  return entries_of<df_prefix_key, df_vip_meta>(bpf_map__fd(skel_->maps.vip_prefixes));
}

std::vector<df_prefix_key> BpfDataPlane::read_vip_addr_prefixes() const {
  return keys_of<df_prefix_key>(bpf_map__fd(skel_->maps.vip_addr_pfxs));
}

std::vector<std::pair<uint32_t, df_real>> BpfDataPlane::read_reals() const {
  std::vector<std::pair<uint32_t, df_real>> out;
  int fd = bpf_map__fd(skel_->maps.reals);
  for (uint32_t id = 1; id < options_.limits.max_reals; id++) {
    df_real real{};
    if (bpf_map_lookup_elem(fd, &id, &real) == 0 && real.family != 0) out.emplace_back(id, real);
  }
  return out;
}

df_config BpfDataPlane::config() const {
  df_config c;
  std::memcpy(&c, const_cast<const df_config*>(&skel_->bss->df_cfg), sizeof(c));
  return c;
}

DataPlaneStats BpfDataPlane::stats() const {
  int ncpu = libbpf_num_possible_cpus();
  DataPlaneStats s;
  std::vector<df_global_stats> g(ncpu);
  s.global = sum_over_cpus(bpf_map__fd(skel_->maps.global_stats), 0, g);
  std::vector<df_counter> scratch(ncpu);
  s.vips.resize(options_.limits.max_vips);
  for (uint32_t i = 0; i < options_.limits.max_vips; i++)
    s.vips[i] = sum_over_cpus(bpf_map__fd(skel_->maps.vip_stats), i, scratch);
  s.reals.resize(options_.limits.max_reals);
  for (uint32_t i = 0; i < options_.limits.max_reals; i++)
    s.reals[i] = sum_over_cpus(bpf_map__fd(skel_->maps.real_stats), i, scratch);
  return s;
}

df_counter BpfDataPlane::vip_real_stats(uint32_t vip_id, uint32_t real_id) const {
  const DataPlaneLimits& l = options_.limits;
  if (!keeps_vip_real_stats(l) || vip_id >= l.max_vips || real_id >= l.max_reals) return {};
  std::vector<df_counter> scratch(libbpf_num_possible_cpus());
  return sum_over_cpus(bpf_map__fd(skel_->maps.vip_real_stats), vip_id * l.max_reals + real_id,
                       scratch);
}

}  // namespace dogfish
