#include "loader.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <net/if.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dogfish/base/address.hpp"
#include "dogfish/base/bpffs.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/name_table.hpp"
#include "dogfish/base/tc.hpp"
#include "skeleton.hpp"

namespace dogfish::decap {
namespace fs = std::filesystem;

namespace {

constexpr Named<Mode> kModes[] = {{Mode::kXdp, "xdp"}, {Mode::kTc, "tc"}};

constexpr const char* kXdpProgName = "decap";
constexpr const char* kTcProgName = "tc_decap";
// Our tc filter's place on the clsact ingress hook.
constexpr uint32_t kTcHandle = 0xdf;
constexpr uint32_t kTcPriority = 1;

// Throws OsError; err may be negative (libbpf's style).
[[noreturn]] void fail(const std::string& what, int err) {
  throw OsError(err < 0 ? -err : err, what);
}

// That slot on one interface.
TcSlot ingress_slot(unsigned ifindex) {
  return {.ifindex = static_cast<int>(ifindex),
          .direction = TcDirection::ingress,
          .handle = kTcHandle,
          .priority = kTcPriority};
}

std::optional<XdpProgram> ours_on(unsigned ifindex) {
  auto p = xdp_program_on(static_cast<int>(ifindex));
  return p && p->name == kXdpProgName ? p : std::nullopt;
}

bool tc_is_ours(unsigned ifindex) {
  uint32_t id = tc_program_in(ingress_slot(ifindex));
  return id && bpf_program_name(id) == kTcProgName;
}

// Removes our XDP program / tc filter from ifindex; true if there was one.
bool detach_ours_xdp(unsigned ifindex) {
  auto p = ours_on(ifindex);
  return p && detach_xdp(static_cast<int>(ifindex), p->mode);
}

void attach_ours_xdp(int prog_fd, XdpMode want, AttachResult& res, const std::string& iface) {
  if (auto p = xdp_program_on(ifindex_of(iface))) {
    if (p->name != kXdpProgName)
      throw Error(fmt::format(
          "interface '{}' already has an XDP program (id {}, '{}') that is not dogfish-decap's: "
          "detach it first",
          iface, p->id, p->name));
    res.replaced = true;
  }
  res.how = fmt::format("xdp ({})", to_string(attach_xdp(iface, prog_fd, want)));
}

void attach_ours_tc(unsigned ifindex, int prog_fd, AttachResult& res, const std::string& iface) {
  res.replaced = tc_program_in(ingress_slot(ifindex)) != 0;
  attach_tc(ingress_slot(ifindex), prog_fd, "'" + iface + "'");
  res.how = "tc (clsact ingress)";
}

bool detach_ours_tc(unsigned ifindex, const std::string& iface) {
  return tc_is_ours(ifindex) && detach_tc(ingress_slot(ifindex), "'" + iface + "'");
}

// Keys first added, then the ones no longer wanted removed: no moment without them.
template <typename K>
void write_keys(int fd, const std::vector<K>& want, std::string (*format)(const K&)) {
  uint32_t one = 1;
  for (const auto& a : want)
    if (bpf_map_update_elem(fd, &a, &one, BPF_ANY)) fail("add " + format(a), errno);
  auto wanted = [&](const K& k) {
    for (const auto& a : want)
      if (std::memcmp(&a, &k, sizeof(k)) == 0) return true;
    return false;
  };
  std::vector<K> stale;
  K key{}, next{};
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (!wanted(next)) stale.push_back(next);
    key = next;
    prev = &key;
  }
  for (const auto& k : stale)
    if (bpf_map_delete_elem(fd, &k) && errno != ENOENT) fail("remove " + format(k), errno);
}

template <typename K>
std::vector<K> read_keys(int fd) {
  std::vector<K> out;
  K key{}, next{};
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    out.push_back(next);
    key = next;
    prev = &key;
  }
  return out;
}

// Every key of the map pinned at `path`, formatted; none when it is not there.
template <typename K>
std::vector<std::string> read_pinned(const fs::path& path, std::string (*format)(const K&)) {
  std::vector<std::string> out;
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (fd.get() >= 0)
    for (const K& k : read_keys<K>(fd.get())) out.push_back(format(k));
  return out;
}

template <typename K>
std::vector<K> parse_all(const std::vector<std::string>& texts, K (*parse)(const std::string&),
                         const char* option, std::size_t max) {
  std::vector<K> out;
  for (const auto& text : texts) out.push_back(parse(text));
  if (out.size() > max)
    throw Error(fmt::format("{} given {} times; at most {}", option, out.size(), max));
  return out;
}

// Whether the map pinned at `pin` is one libbpf reuses for `map` (its own test: type, key and
// value size, entries, flags).
bool same_layout(const bpf_map* map, const fs::path& pin) {
  UniqueFd fd(bpf_obj_get(pin.c_str()));
  bpf_map_info info{};
  __u32 len = sizeof(info);
  if (fd.get() < 0 || bpf_obj_get_info_by_fd(fd.get(), &info, &len)) return false;
  return info.type == bpf_map__type(map) && info.key_size == bpf_map__key_size(map) &&
         info.value_size == bpf_map__value_size(map) &&
         info.max_entries == bpf_map__max_entries(map) && info.map_flags == bpf_map__map_flags(map);
}

// A map an older dogfish-decap pinned in another layout (fewer reasons to count, say) cannot be
// reused, and the load would fail: its pin goes and this attach, which replaces the program that
// map served, pins a fresh one. Counters restart; the sets are written anew by attach anyway.
void drop_pins_of_another_layout(const Skeleton& skel, const fs::path& dir) {
  std::error_code ec;
  for (const char* name : kMapNames) {
    const fs::path pin = dir / name;
    if (!fs::exists(pin, ec) || same_layout(skel.map(name), pin)) continue;
    log_warn(
        "the pinned {} has another layout (an older dogfish-decap's): made afresh, its "
        "entries and counters restart",
        pin.string());
    if (!fs::remove(pin, ec)) throw Error("remove " + pin.string() + ": " + ec.message());
  }
}

void remove_pins(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) throw Error("remove pins under " + dir.string() + ": " + ec.message());
  fs::remove(dir.parent_path(), ec);  // only when empty; an error here is expected otherwise
}

}  // namespace

std::string_view to_string(Mode mode) { return name_of<Mode>(kModes, mode); }
std::optional<Mode> parse_mode(std::string_view name) { return value_of<Mode>(kModes, name); }
std::span<const Named<Mode>> modes() { return kModes; }

df_decap_addr parse_addr(const std::string& text, const char* option) {
  auto a = IpAddress::parse(text);
  if (!a) throw Error(fmt::format("{} '{}' is not an IPv4 or IPv6 address", option, text));
  df_decap_addr key{.family = a->family};
  std::memcpy(key.addr, a->bytes.data(), sizeof(key.addr));
  return key;
}

std::string format_addr(const df_decap_addr& a) {
  IpAddress address{.family = a.family};
  std::memcpy(address.bytes.data(), a.addr, address.size());
  return address.to_string();
}

df_decap_prefix parse_prefix(const std::string& text) {
  auto p = IpPrefix::parse(text);
  if (!p) throw Error(fmt::format("--from '{}' is not a prefix (ADDRESS/LENGTH)", text));
  if (!p->host_bits_zero())
    throw Error(fmt::format("--from '{}' has bits set past the prefix length", text));
  df_decap_prefix key{.prefixlen = 8u + p->length, .family = p->address.family};
  std::memcpy(key.addr, p->address.bytes.data(), sizeof(key.addr));
  return key;
}

std::string format_prefix(const df_decap_prefix& p) {
  IpAddress address{.family = p.family};
  std::memcpy(address.bytes.data(), p.addr, address.size());
  return fmt::format("{}/{}", address.to_string(), p.prefixlen - 8);
}

fs::path pin_dir(const std::string& iface) {
  return decap_netns_pin_dir(current_netns_inode()) / iface;
}

std::string kernel_without_tc_4in6() {
  utsname u{};
  int major = 0, minor = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return "";
  return major < 6 || (major == 6 && minor < 3) ? u.release : "";
}

AttachResult attach(const AttachConfig& cfg) {
  auto addrs = parse_all<df_decap_addr>(
      cfg.addrs, [](const std::string& t) { return parse_addr(t); }, "--addr", DF_DECAP_MAX_ADDRS);
  auto sources = parse_all(cfg.sources, parse_prefix, "--from", DF_DECAP_MAX_SOURCES);
  auto inner_dsts = parse_all<df_decap_addr>(
      cfg.inner_dsts, [](const std::string& t) { return parse_addr(t, "--inner-dst"); },
      "--inner-dst", DF_DECAP_MAX_ADDRS);
  unsigned ifindex = ifindex_of(cfg.iface);
  if (ensure_bpffs())
    log_warn(
        "mounted bpffs on {}; in a private mount namespace (ip netns exec) the pins vanish "
        "on exit: prefer nsenter --net=/run/netns/NAME",
        kBpffs);
  fs::path dir = pin_dir(cfg.iface);
  std::error_code ec;
  // Pins with nothing of ours attached are left from an interface or namespace gone: start afresh.
  if (fs::exists(dir, ec) && !ours_on(ifindex) && !tc_is_ours(ifindex)) remove_pins(dir);
  fs::create_directories(dir, ec);
  if (ec) throw Error("create " + dir.string() + ": " + ec.message());

  Skeleton skel(cfg.mode);
  drop_pins_of_another_layout(skel, dir);
  skel.load(&dir);
  write_keys(skel.map_fd("decap_addrs"), addrs, format_addr);
  write_keys(skel.map_fd("decap_sources"), sources, format_prefix);
  write_keys(skel.map_fd("decap_inner_dsts"), inner_dsts, format_addr);
  uint32_t zero = 0;
  df_decap_config conf{.flags = (cfg.accept_any ? DF_DECAP_ACCEPT_ANY : 0u) |
                                (cfg.any_source ? DF_DECAP_ANY_SOURCE : 0u) |
                                (inner_dsts.empty() ? 0u : DF_DECAP_CHECK_INNER_DST),
                       .gue_port = htons(cfg.gue_port),
                       .pad = 0};
  if (bpf_map_update_elem(skel.map_fd("decap_config"), &zero, &conf, BPF_ANY))
    fail("write decap_config", errno);

  AttachResult res;
  int prog_fd = bpf_program__fd(skel.prog());
  if (cfg.mode == Mode::kXdp) {
    attach_ours_xdp(prog_fd, cfg.xdp_mode, res, cfg.iface);
    if (detach_ours_tc(ifindex, cfg.iface)) res.replaced = true;
  } else {
    attach_ours_tc(ifindex, prog_fd, res, cfg.iface);
    if (detach_ours_xdp(ifindex)) res.replaced = true;
  }
  // The program's pin says which mode is attached, for stats.
  for (const char* m : {"xdp", "tc"}) fs::remove(dir / m, ec);
  fs::path prog_pin = dir / (cfg.mode == Mode::kXdp ? "xdp" : "tc");
  int err = bpf_program__pin(skel.prog(), prog_pin.c_str());
  if (err) fail("pin program at " + prog_pin.string(), err);
  return res;
}

bool detach(const std::string& iface) {
  bool found = false;
  unsigned ifindex = if_nametoindex(iface.c_str());
  if (ifindex) {
    found |= detach_ours_xdp(ifindex);
    found |= detach_ours_tc(ifindex, iface);
  }
  fs::path dir = pin_dir(iface);
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    found = true;
    remove_pins(dir);
  }
  if (!ifindex && !found) fail("interface '" + iface + "' in this network namespace", ENODEV);
  return found;
}

std::vector<IfaceStats> stats(const std::string& iface) {
  std::vector<IfaceStats> out;
  fs::path root = decap_netns_pin_dir(current_netns_inode());
  std::error_code ec;
  std::vector<fs::path> dirs;
  if (!iface.empty()) {
    if (!fs::exists(root / iface, ec))
      throw Error("no dogfish-decap pins for '" + iface + "' under " + root.string() +
                  ": not attached from this network namespace");
    dirs.push_back(root / iface);
  } else if (fs::exists(root, ec)) {
    for (const auto& e : fs::directory_iterator(root, ec)) dirs.push_back(e.path());
  }
  int cpus = libbpf_num_possible_cpus();
  if (cpus < 0) fail("count possible CPUs", cpus);
  for (const auto& dir : dirs) {
    IfaceStats s;
    s.iface = dir.filename();
    s.mode = fs::exists(dir / "tc", ec) ? "tc" : "xdp";
    UniqueFd st(bpf_obj_get((dir / "decap_stats").c_str()));
    if (st.get() < 0) fail("open " + (dir / "decap_stats").string(), errno);
    std::vector<df_decap_stats> per_cpu(cpus);
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(st.get(), &zero, per_cpu.data())) fail("read decap_stats", errno);
    for (const auto& c : per_cpu) {
      for (int r = 0; r < DF_DECAP_REASON_MAX; r++) s.stats.reason[r] += c.reason[r];
      for (int t = 0; t < DF_DECAP_TYPES; t++) s.stats.decap_bytes[t] += c.decap_bytes[t];
    }
    s.addrs = read_pinned(dir / "decap_addrs", format_addr);
    s.sources = read_pinned(dir / "decap_sources", format_prefix);
    UniqueFd conf(bpf_obj_get((dir / "decap_config").c_str()));
    df_decap_config c{};
    if (conf.get() >= 0 && bpf_map_lookup_elem(conf.get(), &zero, &c) == 0) {
      s.accept_any = c.flags & DF_DECAP_ACCEPT_ANY;
      s.any_source = c.flags & DF_DECAP_ANY_SOURCE;
      s.gue_port = ntohs(c.gue_port);
      if (c.flags & DF_DECAP_CHECK_INNER_DST)
        s.inner_dsts = read_pinned(dir / "decap_inner_dsts", format_addr);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace dogfish::decap
