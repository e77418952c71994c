// What dogfish-bench times: a program behind the wrapper (dogfish's balancer, or
// another balancer's object such as Katran's), the paths it is timed on, and how
// a program's own counters prove that every iteration took the path named.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dogfish::bench {

// The paths, each one kind of packet the balancer handles in its own way.
enum class PathKind {
  syn_fixed,    // TCP SYN, one tuple
  syn_random,   // TCP SYN, a new source address each packet
  table_hit,    // TCP ACK of a flow the table knows
  nonsyn_miss,  // TCP ACK, a new source address each packet
  udp_hit,      // UDP of a flow the table knows
  udp_random,   // UDP, a new source address each packet
  not_vip,      // TCP to an address without a VIP: passed
  v6_syn,       // IPv6 TCP SYN, one tuple
  v6_hit,       // IPv6 TCP ACK of a flow the table knows
  // dogfish's own (bpf/icmp.h):
  icmp_echo,     // echo request to a VIP address: answered
  v6_icmp_echo,  // the same in IPv6
  too_big,       // TCP ACK of a flow the table knows, over max_packet_size: answered
  v6_too_big,    // the same in IPv6
  icmp_to_real,  // fragmentation needed about a VIP's flow: sent to the flow's real
  any_port_hit,  // TCP ACK of a flow the table knows, to a port only an any-port VIP serves
  prefix_hit,    // TCP ACK of a flow the table knows, to an address only a prefix VIP serves
  gue_hit,       // TCP ACK of a flow the table knows, to a real that takes GUE (table_hit's twin)
  v6_gue_hit,    // the same in IPv6, with the UDP checksum (v6_hit's twin)
};

// What every program is configured with, so each sees the same service. Real
// ids 1, 2 are IPv4, 3, 4 IPv6, all IPIP; each ring alternates between its two reals.
struct Service {
  static constexpr uint16_t tcp_port = 80;
  static constexpr uint16_t udp_port = 53;
  static constexpr const char* vip4 = "10.0.0.10";
  static constexpr const char* vip6 = "fd00::10";
  static constexpr const char* not_vip4 = "10.0.0.99";
  // An any-port TCP VIP (on the IPv4 ring) and a port it serves; dogfish's own.
  static constexpr const char* any_port_vip4 = "10.0.0.11";
  static constexpr uint16_t any_port_asked = 8080;
  // A prefix TCP VIP on port tcp_port (on the IPv4 ring) and an address in it; dogfish's own.
  static constexpr const char* prefix_vip4 = "10.0.2.0/24";
  static constexpr const char* prefix_asked4 = "10.0.2.77";
  // TCP VIPs whose reals take GUE (ids 5, 6 IPv4; 7, 8 IPv6); dogfish's own.
  static constexpr const char* gue_vip4 = "10.0.0.12";
  static constexpr const char* gue_vip6 = "fd00::12";
  static constexpr const char* client4 = "10.0.1.1";
  static constexpr const char* client6 = "fd00:1::1";
  static constexpr const char* real4[2] = {"10.100.0.1", "10.100.0.2"};
  static constexpr const char* real6[2] = {"fd00:100::1", "fd00:100::2"};
  static constexpr const char* gue_real4[2] = {"10.100.0.5", "10.100.0.6"};
  static constexpr const char* gue_real6[2] = {"fd00:100::5", "fd00:100::6"};
  static constexpr uint8_t gateway_mac[6] = {0x02, 0xdf, 0x00, 0x00, 0x00, 0xfe};
  static constexpr uint32_t ring_size = 65537;
  // max_packet_size on the too-big paths: their 82-byte packets no longer fit once
  // encapsulated (+20 IPv4, +40 IPv6). 0 (no limit) on every other path.
  static constexpr uint32_t too_big_max4 = 90;
  static constexpr uint32_t too_big_max6 = 100;
};

// Counter values in the order a target names them.
using Counts = std::vector<uint64_t>;

// What one iteration of a path adds to each counter; kAny where the path may add anything.
constexpr int64_t kAny = -1;

class Target {
 public:
  virtual ~Target() = default;
  virtual std::string name() const = 0;
  virtual int prog_fd() const = 0;
  // Whether the program has this path at all; the bench skips it where not.
  virtual bool handles(PathKind) const { return true; }
  // Before a path's warm-up packet: whatever lets that packet's flow into the table.
  virtual void before_warm(PathKind) {}
  virtual void after_warm(PathKind) {}
  // Before each chunk of --prefill's flows: whatever lets them all into the table.
  virtual void before_prefill() {}
  // The kernel's memory charge for the program's connection table(s).
  virtual uint64_t table_bytes() const = 0;
  // Entries in each of the program's connection tables (one, or one per CPU).
  virtual std::vector<size_t> table_entries() const = 0;
  // Points every slot of the IPv4 TCP VIP's ring at one real (an id of Service's).
  virtual void point_ring_at(uint32_t real_id) = 0;
  virtual std::vector<std::string> counter_names() const = 0;
  virtual Counts counters() const = 0;
  // Per-iteration deltas of counter_names() that prove one iteration of `kind`.
  virtual std::vector<int64_t> expect(PathKind kind) const = 0;
};

// The memory the kernel charges for a map (its fdinfo's memlock).
uint64_t map_memlock(int map_fd);

// The entries in a hash map, counted by reading it.
size_t map_entries(int map_fd);

// Empty when after - before is n times expect(kind); otherwise what differs.
std::string verify_counts(const Target& t, PathKind kind, const Counts& before, const Counts& after,
                          uint64_t n);

}  // namespace dogfish::bench
