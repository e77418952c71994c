#include "loader.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>

#include "skeleton.hpp"

namespace dogfish::decap {
namespace fs = std::filesystem;

namespace {

constexpr const char* kBpffs = "/sys/fs/bpf";

constexpr const char* kXdpProgName = "decap";
constexpr const char* kTcProgName = "tc_decap";
// Our tc filter's place on the clsact ingress hook.
constexpr uint32_t kTcHandle = 0xdf;
constexpr uint32_t kTcPriority = 1;

bool verbose_libbpf = false;
int quiet_libbpf = 0;  // > 0 while probing: an expected failure is not news

int libbpf_log(enum libbpf_print_level level, const char* fmt, va_list args) {
  if ((level == LIBBPF_DEBUG || quiet_libbpf) && !verbose_libbpf) return 0;
  return std::vfprintf(stderr, fmt, args);  // libbpf's lines start with "libbpf: "
}

struct QuietLibbpf {
  QuietLibbpf() { quiet_libbpf++; }
  ~QuietLibbpf() { quiet_libbpf--; }
};

// An fd closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

void ensure_bpffs() {
  struct statfs st {};
  if (statfs(kBpffs, &st) == 0 && st.f_type == BPF_FS_MAGIC) return;
  if (mount("bpf", kBpffs, "bpf", 0, nullptr)) fail(std::string("mount bpffs at ") + kBpffs, errno);
  std::fprintf(stderr,
               "dogfish-decap: mounted bpffs at %s; in a private mount namespace (ip netns exec) "
               "the pins vanish on exit: prefer nsenter --net=/run/netns/NAME\n",
               kBpffs);
}

unsigned ifindex_of(const std::string& iface) {
  unsigned idx = if_nametoindex(iface.c_str());
  if (!idx) fail("interface '" + iface + "' in this network namespace", errno);
  return idx;
}

std::string prog_name(uint32_t id) {
  Fd fd{bpf_prog_get_fd_by_id(id)};
  if (fd.fd < 0) return "";
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.fd, &info, &len)) return "";
  return info.name;
}

// The XDP program on ifindex: its id (0 if none) and whether it is in generic (skb) mode.
struct XdpAttached {
  uint32_t id = 0;
  bool generic = false;
};

XdpAttached xdp_attached(unsigned ifindex) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  int err = bpf_xdp_query(ifindex, 0, &q);
  if (err) fail("query XDP program of ifindex " + std::to_string(ifindex), err);
  if (q.attach_mode == XDP_ATTACHED_SKB) return {q.skb_prog_id, true};
  if (q.attach_mode == XDP_ATTACHED_DRV) return {q.drv_prog_id, false};
  if (q.attach_mode == XDP_ATTACHED_MULTI)
    return {q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id, !q.drv_prog_id};
  return {};
}

bpf_tc_hook ingress_hook(unsigned ifindex) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = static_cast<int>(ifindex);
  hook.attach_point = BPF_TC_INGRESS;
  return hook;
}

// The id of the program in our tc filter slot, 0 if none.
uint32_t tc_attached(unsigned ifindex) {
  bpf_tc_hook hook = ingress_hook(ifindex);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  QuietLibbpf quiet;  // no clsact qdisc or no filter: both mean "none"
  return bpf_tc_query(&hook, &opts) == 0 ? opts.prog_id : 0;
}

bool xdp_is_ours(unsigned ifindex) {
  uint32_t id = xdp_attached(ifindex).id;
  return id && prog_name(id) == kXdpProgName;
}

bool tc_is_ours(unsigned ifindex) {
  uint32_t id = tc_attached(ifindex);
  return id && prog_name(id) == kTcProgName;
}

// Removes our XDP program / tc filter from ifindex; true if there was one.
bool detach_xdp(unsigned ifindex, const std::string& iface) {
  if (!xdp_is_ours(ifindex)) return false;
  XdpAttached cur = xdp_attached(ifindex);
  int err = bpf_xdp_detach(ifindex, cur.generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE, nullptr);
  if (err) fail("detach XDP program from '" + iface + "'", err);
  return true;
}

void attach_xdp(unsigned ifindex, int prog_fd, XdpMode want, AttachResult& res,
                const std::string& iface) {
  XdpAttached cur = xdp_attached(ifindex);
  if (cur.id && prog_name(cur.id) != kXdpProgName)
    throw Error("interface '" + iface + "' already has an XDP program (id " +
                std::to_string(cur.id) + ", '" + prog_name(cur.id) +
                "') that is not dogfish-decap's: detach it first");
  res.replaced = cur.id != 0;
  if (want == XdpMode::kAuto && cur.id) {
    want = cur.generic ? XdpMode::kGeneric : XdpMode::kNative;  // keep what we had
  } else if (cur.id && cur.generic != (want == XdpMode::kGeneric)) {
    detach_xdp(ifindex, iface);  // native and generic cannot be swapped in one step
  }
  if (want != XdpMode::kGeneric) {
    int err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, nullptr);
    if (!err) {
      res.how = "xdp (native)";
      return;
    }
    if (want == XdpMode::kNative) fail("attach XDP program (native) to '" + iface + "'", err);
  }
  int err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_SKB_MODE, nullptr);
  if (err) fail("attach XDP program (generic) to '" + iface + "'", err);
  res.how = "xdp (generic)";
}

void attach_tc(unsigned ifindex, int prog_fd, AttachResult& res, const std::string& iface) {
  bpf_tc_hook hook = ingress_hook(ifindex);
  int err;
  {
    QuietLibbpf quiet;  // an existing clsact qdisc is fine
    err = bpf_tc_hook_create(&hook);
  }
  if (err && err != -EEXIST) fail("create clsact qdisc on '" + iface + "'", err);
  res.replaced = tc_attached(ifindex) != 0;
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE, .handle = kTcHandle,
              .priority = kTcPriority);
  err = bpf_tc_attach(&hook, &opts);
  if (err) fail("attach tc program to ingress of '" + iface + "'", err);
  res.how = "tc (clsact ingress)";
}

bool detach_tc(unsigned ifindex, const std::string& iface) {
  if (!tc_is_ours(ifindex)) return false;
  bpf_tc_hook hook = ingress_hook(ifindex);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
  int err = bpf_tc_detach(&hook, &opts);
  if (err) fail("detach tc program from ingress of '" + iface + "'", err);
  return true;
}

// Addresses first added, then the ones no longer wanted removed: no moment without them.
void write_addrs(int fd, const std::vector<df_decap_addr>& want) {
  uint32_t one = 1;
  for (const auto& a : want)
    if (bpf_map_update_elem(fd, &a, &one, BPF_ANY)) fail("add " + format_addr(a), errno);
  auto wanted = [&](const df_decap_addr& k) {
    for (const auto& a : want)
      if (std::memcmp(&a, &k, sizeof(k)) == 0) return true;
    return false;
  };
  std::vector<df_decap_addr> stale;
  df_decap_addr key{}, next{};
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (!wanted(next)) stale.push_back(next);
    key = next;
    prev = &key;
  }
  for (const auto& k : stale)
    if (bpf_map_delete_elem(fd, &k) && errno != ENOENT) fail("remove " + format_addr(k), errno);
}

std::vector<df_decap_addr> read_addrs(int fd) {
  std::vector<df_decap_addr> out;
  df_decap_addr key{}, next{};
  void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    out.push_back(next);
    key = next;
    prev = &key;
  }
  return out;
}

fs::path netns_dir() {
  struct stat st {};
  if (stat("/proc/self/ns/net", &st)) fail("stat /proc/self/ns/net", errno);
  return fs::path(kBpffs) / "dogfish-decap" / std::to_string(st.st_ino);
}

void remove_pins(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) throw Error("remove pins under " + dir.string() + ": " + ec.message());
  fs::remove(dir.parent_path(), ec);  // only when empty; an error here is expected otherwise
}

}  // namespace

void fail(const std::string& what, int err) {
  err = err < 0 ? -err : err;
  throw Error(what + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")");
}

void set_libbpf_verbose(bool verbose) {
  verbose_libbpf = verbose;
  libbpf_set_print(libbpf_log);
}

df_decap_addr parse_addr(const std::string& text) {
  df_decap_addr a{};
  if (inet_pton(AF_INET, text.c_str(), a.addr) == 1) {
    a.family = DF_FAMILY_V4;
  } else if (inet_pton(AF_INET6, text.c_str(), a.addr) == 1) {
    a.family = DF_FAMILY_V6;
  } else {
    throw Error("--addr '" + text + "' is not an IPv4 or IPv6 address");
  }
  return a;
}

std::string format_addr(const df_decap_addr& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.family == DF_FAMILY_V4 ? AF_INET : AF_INET6, a.addr, buf, sizeof(buf));
  return buf;
}

fs::path pin_dir(const std::string& iface) { return netns_dir() / iface; }

std::string kernel_without_tc_4in6() {
  utsname u{};
  int major = 0, minor = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return "";
  return major < 6 || (major == 6 && minor < 3) ? u.release : "";
}

AttachResult attach(const AttachConfig& cfg) {
  std::vector<df_decap_addr> addrs;
  for (const auto& text : cfg.addrs) addrs.push_back(parse_addr(text));
  if (addrs.size() > DF_DECAP_MAX_ADDRS)
    throw Error("--addr given " + std::to_string(addrs.size()) + " times; at most " +
                std::to_string(DF_DECAP_MAX_ADDRS));
  unsigned ifindex = ifindex_of(cfg.iface);
  ensure_bpffs();
  fs::path dir = pin_dir(cfg.iface);
  std::error_code ec;
  // Pins with nothing of ours attached are left from an interface or namespace gone: start afresh.
  if (fs::exists(dir, ec) && !xdp_is_ours(ifindex) && !tc_is_ours(ifindex)) remove_pins(dir);
  fs::create_directories(dir, ec);
  if (ec) throw Error("create " + dir.string() + ": " + ec.message());

  Skeleton skel(cfg.mode);
  skel.load(&dir);
  write_addrs(skel.map_fd("decap_addrs"), addrs);
  uint32_t zero = 0;
  df_decap_config conf{.flags = cfg.accept_any ? DF_DECAP_ACCEPT_ANY : 0u, .pad = 0};
  if (bpf_map_update_elem(skel.map_fd("decap_config"), &zero, &conf, BPF_ANY))
    fail("write decap_config", errno);

  AttachResult res;
  int prog_fd = bpf_program__fd(skel.prog());
  if (cfg.mode == Mode::kXdp) {
    attach_xdp(ifindex, prog_fd, cfg.xdp_mode, res, cfg.iface);
    if (detach_tc(ifindex, cfg.iface)) res.replaced = true;
  } else {
    attach_tc(ifindex, prog_fd, res, cfg.iface);
    if (detach_xdp(ifindex, cfg.iface)) res.replaced = true;
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
    found |= detach_xdp(ifindex, iface);
    found |= detach_tc(ifindex, iface);
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
  fs::path root = netns_dir();
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
    Fd st{bpf_obj_get((dir / "decap_stats").c_str())};
    if (st.fd < 0) fail("open " + (dir / "decap_stats").string(), errno);
    std::vector<df_decap_stats> per_cpu(cpus);
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(st.fd, &zero, per_cpu.data())) fail("read decap_stats", errno);
    for (const auto& c : per_cpu) {
      for (int r = 0; r < DF_DECAP_REASON_MAX; r++) s.stats.reason[r] += c.reason[r];
      for (int t = 0; t < DF_DECAP_TYPES; t++) s.stats.decap_bytes[t] += c.decap_bytes[t];
    }
    Fd addrs{bpf_obj_get((dir / "decap_addrs").c_str())};
    if (addrs.fd >= 0)
      for (const auto& a : read_addrs(addrs.fd)) s.addrs.push_back(format_addr(a));
    Fd conf{bpf_obj_get((dir / "decap_config").c_str())};
    df_decap_config c{};
    if (conf.fd >= 0 && bpf_map_lookup_elem(conf.fd, &zero, &c) == 0)
      s.accept_any = c.flags & DF_DECAP_ACCEPT_ANY;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace dogfish::decap
