// rtnetlink through libnl-route-3, bound to one network namespace: the links, addresses,
// routes and tunnel devices the lab builder makes, and TX checksum offload (ethtool).
//
// Errors name the namespace, the link and the value: "add 10.0.1.2/24 to client in network
// namespace 'df-gw': File exists". A failure the kernel reported is an OsError with its errno.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dogfish/base/address.hpp"

struct nl_sock;
struct rtnl_link;

namespace dogfish::lab {

struct LinkInfo {
  std::string name;
  int ifindex = 0;
  std::uint32_t mtu = 0;
  bool up = false;   // administratively (IFF_UP)
  std::string kind;  // "veth", "ipip", ... or "" (lo, and devices without IFLA_INFO_KIND)
};

// One rtnetlink socket; not safe to use from two threads at once.
class Netlink {
 public:
  // An rtnetlink socket opened inside the namespace (on a thread that has entered it, so
  // every request after acts there). "" = the caller's namespace.
  explicit Netlink(const std::string& netns = "");
  ~Netlink();
  Netlink(Netlink&&) noexcept;
  Netlink& operator=(Netlink&&) noexcept;

  const std::string& netns() const noexcept { return netns_; }

  // One veth pair: `name` in this namespace, `peer_name` in `peer_netns` ("" = this
  // namespace too), both with `mtu`, both down.
  void add_veth(const std::string& name, const std::string& peer_netns,
                const std::string& peer_name, std::uint32_t mtu);
  int ifindex(
      const std::string& link) const;  // throws Error "no link 'X' in network namespace 'N'"
  bool has_link(const std::string& link) const;
  void set_up(const std::string& link);
  void set_mtu(const std::string& link, std::uint32_t mtu);
  // Adds address/len (host bits allowed, e.g. 10.0.1.2/24); IPv6 with IFA_F_NODAD so it
  // is usable at once.
  void add_address(const std::string& link, const IpPrefix& address);
  // Universe scope only (no link-local, no 127/8 or ::1), in the kernel's order (IPv4
  // first); all links when "".
  std::vector<IpPrefix> addresses(const std::string& link = "") const;
  // Route `to` (nothing = default route of via's family) via a gateway in the main table;
  // optional advmss metric (0 = none).
  void add_route(const std::optional<IpPrefix>& to, const IpAddress& via, std::uint32_t advmss = 0);
  // Every address of `to` local to this namespace, through `link` (`ip route add local TO dev
  // LINK`, the local table): how a real takes a prefix VIP, in both families.
  void add_local_route(const std::string& link, const IpPrefix& to);
  std::vector<LinkInfo> links() const;  // by ifindex
  // Deleting one end of a veth deletes both.
  void delete_link(const std::string& link);
  // Kernel tunnel devices for decap on reals: IPIP (local `local`, remote any) and ip6tnl
  // in mode any (local `local`, remote any: carries IPv6-in-IPv6 and IPv4-in-IPv6). Both
  // created up. Return false, creating nothing, when this kernel has no such device type
  // (EOPNOTSUPP / unknown kind); throw on any other failure.
  bool add_ipip(const std::string& name, const IpAddress& local);
  bool add_ip6tnl(const std::string& name, const IpAddress& local);

 private:
  struct SockDeleter {
    void operator()(nl_sock* sock) const noexcept;
  };

  // Throws for a libnl result < 0, naming `what`: OsError with the kernel's errno when
  // the kernel refused, Error with libnl's reason otherwise.
  void check(int result, const std::string& what) const;
  rtnl_link* get_link(const std::string& link) const;  // owned by the caller (rtnl_link_put)
  std::string on(const std::string& link) const;       // "LINK in network namespace 'N'"
  bool add_tunnel(const std::string& name, const IpAddress& local, const char* kind);

  std::string netns_;
  std::unique_ptr<nl_sock, SockDeleter> sock_;
  // The errno of the kernel's last NLMSG_ERROR (libnl maps it to a coarser NLE_* code);
  // on the heap so that the callback's pointer survives a move.
  std::unique_ptr<int> kernel_error_;
};

// TX checksum offload on or off (SIOCETHTOOL ETHTOOL_STXCSUM) for a link inside a
// namespace, as `ethtool -K LINK tx on|off`: turning it off also turns off what depends on
// it (TSO, ...).
void set_tx_checksum(const std::string& netns, const std::string& link, bool on);
bool tx_checksum(const std::string& netns, const std::string& link);

}  // namespace dogfish::lab
