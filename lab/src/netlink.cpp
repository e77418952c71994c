#include "dogfish/lab/netlink.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/ethtool.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/ip6tnl.h>
#include <netlink/route/link/ipip.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/lab/netns.hpp"

namespace dogfish::lab {

namespace {

// libnl objects are reference-counted; these drop the reference this file holds.
template <typename T, void (*Put)(T*)>
struct Ref {
  T* p = nullptr;
  explicit Ref(T* object = nullptr) : p(object) {}
  ~Ref() {
    if (p) Put(p);
  }
  Ref(Ref&& other) noexcept : p(std::exchange(other.p, nullptr)) {}
  Ref& operator=(Ref&&) = delete;
  T* get() const { return p; }
  T** out() { return &p; }
};
using LinkRef = Ref<rtnl_link, rtnl_link_put>;
using AddrRef = Ref<rtnl_addr, rtnl_addr_put>;
using RouteRef = Ref<rtnl_route, rtnl_route_put>;
using NlAddrRef = Ref<nl_addr, nl_addr_put>;
using CacheRef = Ref<nl_cache, nl_cache_free>;

// rtnl_*_alloc_cache take a dump that a change interrupted again without emptying the cache
// first (nl_cache_refill, libnl 3.7): every object came back once per try. Here each try
// starts empty; a namespace that changes without pause for 100 tries gives the error.
// 0 or a libnl error.
int dump(nl_sock* sock, const char* kind, int request, CacheRef& cache) {
  if (int error = nl_cache_alloc_name(kind, cache.out()); error < 0) return error;
  for (int tries = 1;; ++tries) {
    int error = nl_rtgen_request(sock, request, AF_UNSPEC, NLM_F_DUMP);
    if (error >= 0) error = nl_cache_pickup(sock, cache.get());
    if (error != -NLE_DUMP_INTR || tries == 100) return std::min(error, 0);
    nl_cache_clear(cache.get());
  }
}

int address_family(const IpAddress& address) { return address.is_v4() ? AF_INET : AF_INET6; }

NlAddrRef to_nl_addr(const IpAddress& address, int prefix_length) {
  NlAddrRef result(nl_addr_build(address_family(address), address.bytes.data(), address.size()));
  if (!result.get())
    throw Error(fmt::format("build the netlink address of {}: out of memory", address.to_string()));
  nl_addr_set_prefixlen(result.get(), prefix_length);
  return result;
}

std::optional<IpAddress> from_nl_addr(nl_addr* address) {
  IpAddress result;
  int family = nl_addr_get_family(address);
  if (family == AF_INET)
    result.family = DF_FAMILY_V4;
  else if (family == AF_INET6)
    result.family = DF_FAMILY_V6;
  else
    return std::nullopt;
  if (nl_addr_get_len(address) != result.size()) return std::nullopt;
  std::memcpy(result.bytes.data(), nl_addr_get_binary_addr(address), result.size());
  return result;
}

void check_link_name(const std::string& link) {
  if (link.empty() || link.size() >= IFNAMSIZ || link.find_first_of("/ \t\n") != std::string::npos)
    throw Error(fmt::format("invalid link name '{}' (1 to {} characters, no '/' or spaces)", link,
                            IFNAMSIZ - 1));
}

[[noreturn]] void throw_no_link(const std::string& link, const std::string& netns) {
  throw Error(fmt::format("no link '{}' in {}", link, describe_netns(netns)));
}

// Records the errno the kernel answered with; NL_STOP keeps libnl's own handling.
int record_kernel_error(sockaddr_nl*, nlmsgerr* error, void* arg) {
  *static_cast<int*>(arg) = -error->error;
  return NL_STOP;
}

}  // namespace

void Netlink::SockDeleter::operator()(nl_sock* sock) const noexcept { nl_socket_free(sock); }

Netlink::Netlink(const std::string& netns)
    : netns_(netns), kernel_error_(std::make_unique<int>(0)) {
  sock_.reset(nl_socket_alloc());
  if (!sock_)
    throw Error(
        fmt::format("allocate a netlink socket for {}: out of memory", describe_netns(netns)));
  // The socket belongs to the namespace of the thread that creates it, for good.
  int result = in_netns(netns, [&] { return nl_connect(sock_.get(), NETLINK_ROUTE); });
  if (result < 0)
    throw Error(fmt::format("open an rtnetlink socket in {}: {}", describe_netns(netns),
                            nl_geterror(result)));
  nl_socket_modify_err_cb(sock_.get(), NL_CB_CUSTOM, record_kernel_error, kernel_error_.get());
}

Netlink::~Netlink() = default;
Netlink::Netlink(Netlink&&) noexcept = default;
Netlink& Netlink::operator=(Netlink&&) noexcept = default;

void Netlink::check(int result, const std::string& what) const {
  int kernel_error = std::exchange(*kernel_error_, 0);
  if (result >= 0) return;
  // A stale kernel errno from an earlier request must not be blamed on this one.
  if (kernel_error != 0 && nl_syserr2nlerr(kernel_error) == -result)
    throw OsError(kernel_error, what);
  throw Error(fmt::format("{}: {}", what, nl_geterror(result)));
}

std::string Netlink::on(const std::string& link) const {
  return fmt::format("{} in {}", link, describe_netns(netns_));
}

rtnl_link* Netlink::get_link(const std::string& link) const {
  check_link_name(link);
  rtnl_link* result = nullptr;
  int error = rtnl_link_get_kernel(sock_.get(), 0, link.c_str(), &result);
  if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) throw_no_link(link, netns_);
  check(error, "look up link " + on(link));
  return result;
}

void Netlink::add_veth(const std::string& name, const std::string& peer_netns,
                       const std::string& peer_name, std::uint32_t mtu) {
  check_link_name(name);
  check_link_name(peer_name);
  std::optional<NetnsFd> peer_ns;
  if (!peer_netns.empty()) peer_ns.emplace(peer_netns);

  rtnl_link* veth = rtnl_link_veth_alloc();
  if (!veth) throw Error("allocate a veth link: out of memory");
  LinkRef peer(rtnl_link_veth_get_peer(veth));
  rtnl_link_set_name(veth, name.c_str());
  rtnl_link_set_mtu(veth, mtu);
  rtnl_link_set_name(peer.get(), peer_name.c_str());
  rtnl_link_set_mtu(peer.get(), mtu);
  if (peer_ns) rtnl_link_set_ns_fd(peer.get(), peer_ns->get());
  int result = rtnl_link_add(sock_.get(), veth, NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_veth_release(veth);
  check(result, fmt::format("add veth {} (peer {} in {}, MTU {})", on(name), peer_name,
                            describe_netns(peer_netns.empty() ? netns_ : peer_netns), mtu));
}

int Netlink::ifindex(const std::string& link) const {
  LinkRef found(get_link(link));
  return rtnl_link_get_ifindex(found.get());
}

bool Netlink::has_link(const std::string& link) const {
  check_link_name(link);
  LinkRef found;
  int error = rtnl_link_get_kernel(sock_.get(), 0, link.c_str(), found.out());
  if (error == -NLE_OBJ_NOTFOUND || error == -NLE_NODEV) return false;
  check(error, "look up link " + on(link));
  return true;
}

void Netlink::set_up(const std::string& link) {
  LinkRef found(get_link(link));
  LinkRef change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  check(rtnl_link_change(sock_.get(), found.get(), change.get(), 0), "set " + on(link) + " up");
}

void Netlink::set_mtu(const std::string& link, std::uint32_t mtu) {
  LinkRef found(get_link(link));
  LinkRef change(rtnl_link_alloc());
  rtnl_link_set_mtu(change.get(), mtu);
  check(rtnl_link_change(sock_.get(), found.get(), change.get(), 0),
        fmt::format("set the MTU of {} to {}", on(link), mtu));
}

void Netlink::add_address(const std::string& link, const IpPrefix& address) {
  int index = ifindex(link);
  AddrRef request(rtnl_addr_alloc());
  NlAddrRef local = to_nl_addr(address.address, address.length);
  rtnl_addr_set_ifindex(request.get(), index);
  rtnl_addr_set_local(request.get(), local.get());
  // Duplicate address detection would leave an IPv6 address tentative (unusable: bind()
  // fails with EADDRNOTAVAIL) for a second or more; the lab's addresses are unique.
  if (address.address.is_v6()) rtnl_addr_set_flags(request.get(), IFA_F_NODAD);
  check(rtnl_addr_add(sock_.get(), request.get(), NLM_F_EXCL),
        fmt::format("add {} to {}", address.to_string(), on(link)));
}

std::vector<IpPrefix> Netlink::addresses(const std::string& link) const {
  int index = link.empty() ? 0 : ifindex(link);
  CacheRef cache;
  check(dump(sock_.get(), "route/addr", RTM_GETADDR, cache),
        link.empty() ? "list the addresses in " + describe_netns(netns_)
                     : "list the addresses of " + on(link));
  std::vector<IpPrefix> result;
  for (nl_object* object = nl_cache_get_first(cache.get()); object;
       object = nl_cache_get_next(object)) {
    auto* address = reinterpret_cast<rtnl_addr*>(object);
    if (rtnl_addr_get_scope(address) != RT_SCOPE_UNIVERSE) continue;
    if (index != 0 && rtnl_addr_get_ifindex(address) != index) continue;
    nl_addr* local = rtnl_addr_get_local(address);
    auto parsed = local ? from_nl_addr(local) : std::nullopt;
    if (parsed)
      result.push_back(
          IpPrefix{*parsed, static_cast<std::uint8_t>(rtnl_addr_get_prefixlen(address))});
  }
  return result;
}

void Netlink::add_route(const std::optional<IpPrefix>& to, const IpAddress& via,
                        std::uint32_t advmss) {
  std::string what =
      fmt::format("add route {} via {}{} in {}", to ? to->to_string() : "default", via.to_string(),
                  advmss ? fmt::format(" advmss {}", advmss) : "", describe_netns(netns_));
  if (to && to->address.family != via.family)
    throw Error(what + ": the gateway's family differs from the destination's");

  RouteRef route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), address_family(via));
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);  // what `ip route add` uses
  rtnl_route_set_scope(route.get(), RT_SCOPE_UNIVERSE);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  NlAddrRef destination =
      to ? to_nl_addr(to->address, to->length) : to_nl_addr(IpAddress{.family = via.family}, 0);
  check(rtnl_route_set_dst(route.get(), destination.get()), what);

  rtnl_nexthop* nexthop = rtnl_route_nh_alloc();
  if (!nexthop) throw Error(what + ": out of memory");
  NlAddrRef gateway = to_nl_addr(via, via.is_v4() ? 32 : 128);
  rtnl_route_nh_set_gateway(nexthop, gateway.get());
  rtnl_route_add_nexthop(route.get(), nexthop);  // the route owns it from here
  if (advmss != 0) check(rtnl_route_set_metric(route.get(), RTAX_ADVMSS, advmss), what);
  check(rtnl_route_add(sock_.get(), route.get(), NLM_F_EXCL), what);
}

void Netlink::add_local_route(const std::string& link, const IpPrefix& to) {
  const std::string what = fmt::format("add route local {} on {}", to.to_string(), on(link));
  RouteRef route(rtnl_route_alloc());
  rtnl_route_set_family(route.get(), address_family(to.address));
  rtnl_route_set_table(route.get(), RT_TABLE_LOCAL);
  rtnl_route_set_protocol(route.get(), RTPROT_BOOT);
  rtnl_route_set_scope(route.get(), RT_SCOPE_HOST);
  rtnl_route_set_type(route.get(), RTN_LOCAL);
  NlAddrRef destination = to_nl_addr(to.address, to.length);
  check(rtnl_route_set_dst(route.get(), destination.get()), what);
  rtnl_nexthop* nexthop = rtnl_route_nh_alloc();
  if (!nexthop) throw Error(what + ": out of memory");
  rtnl_route_nh_set_ifindex(nexthop, ifindex(link));
  rtnl_route_add_nexthop(route.get(), nexthop);  // the route owns it from here
  check(rtnl_route_add(sock_.get(), route.get(), NLM_F_EXCL), what);
}

std::vector<LinkInfo> Netlink::links() const {
  CacheRef cache;
  check(dump(sock_.get(), "route/link", RTM_GETLINK, cache),
        "list the links in " + describe_netns(netns_));
  std::vector<LinkInfo> result;
  for (nl_object* object = nl_cache_get_first(cache.get()); object;
       object = nl_cache_get_next(object)) {
    auto* link = reinterpret_cast<rtnl_link*>(object);
    const char* name = rtnl_link_get_name(link);
    const char* kind = rtnl_link_get_type(link);
    result.push_back(LinkInfo{
        .name = name ? name : "",
        .ifindex = rtnl_link_get_ifindex(link),
        .mtu = rtnl_link_get_mtu(link),
        .up = (rtnl_link_get_flags(link) & IFF_UP) != 0,
        .kind = kind ? kind : "",
    });
  }
  std::sort(result.begin(), result.end(),
            [](const LinkInfo& a, const LinkInfo& b) { return a.ifindex < b.ifindex; });
  return result;
}

void Netlink::delete_link(const std::string& link) {
  LinkRef found(get_link(link));
  check(rtnl_link_delete(sock_.get(), found.get()), "delete " + on(link));
}

bool Netlink::add_tunnel(const std::string& name, const IpAddress& local, const char* kind) {
  check_link_name(name);
  bool ip6tnl = std::strcmp(kind, "ip6tnl") == 0;
  std::string what = fmt::format("add {} tunnel {} (local {})", kind, on(name), local.to_string());
  if (local.is_v6() != ip6tnl)
    throw Error(fmt::format("{}: the local address must be IPv{}", what, ip6tnl ? 6 : 4));

  LinkRef tunnel(ip6tnl ? rtnl_link_ip6_tnl_alloc() : rtnl_link_ipip_alloc());
  if (!tunnel.get()) throw Error(what + ": out of memory");
  if (ip6tnl) {
    in6_addr address;
    std::memcpy(&address, local.bytes.data(), sizeof address);
    rtnl_link_ip6_tnl_set_local(tunnel.get(), &address);
    rtnl_link_ip6_tnl_set_proto(tunnel.get(), 0);  // mode any: IPv6 and IPv4 inside
  } else {
    std::uint32_t address;  // network byte order, as IFLA_IPTUN_LOCAL carries it
    std::memcpy(&address, local.bytes.data(), sizeof address);
    rtnl_link_ipip_set_local(tunnel.get(), address);
  }
  rtnl_link_set_name(tunnel.get(), name.c_str());
  rtnl_link_set_flags(tunnel.get(), IFF_UP);
  int result = rtnl_link_add(sock_.get(), tunnel.get(), NLM_F_CREATE | NLM_F_EXCL);
  // The kernel answers EOPNOTSUPP for a kind no module provides (rtnl_newlink); the
  // request is refused as a whole, so nothing is left behind.
  if (result == -NLE_OPNOTSUPP && *kernel_error_ == EOPNOTSUPP) {
    *kernel_error_ = 0;
    return false;
  }
  check(result, what);
  return true;
}

bool Netlink::add_ipip(const std::string& name, const IpAddress& local) {
  return add_tunnel(name, local, "ipip");
}

bool Netlink::add_ip6tnl(const std::string& name, const IpAddress& local) {
  return add_tunnel(name, local, "ip6tnl");
}

// One ethtool request on `link` through a socket opened in the namespace (the ioctl acts in
// the socket's namespace, whichever thread makes it).
static void ethtool(const std::string& netns, const std::string& link, ethtool_value& value,
                    const std::string& what) {
  check_link_name(link);
  auto [fd, error] = in_netns(netns, [] {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return std::pair{UniqueFd(fd), errno};
  });
  if (!fd) throw OsError(error, what);
  ifreq request{};
  std::memcpy(request.ifr_name, link.c_str(), link.size());
  request.ifr_data = reinterpret_cast<char*>(&value);
  if (ioctl(fd.get(), SIOCETHTOOL, &request) != 0) {
    if (errno == ENODEV) throw_no_link(link, netns);
    throw OsError(errno, what);
  }
}

void set_tx_checksum(const std::string& netns, const std::string& link, bool on) {
  ethtool_value value{.cmd = ETHTOOL_STXCSUM, .data = on ? 1u : 0u};
  ethtool(netns, link, value,
          fmt::format("turn TX checksum offload {} on {} in {}", on ? "on" : "off", link,
                      describe_netns(netns)));
}

bool tx_checksum(const std::string& netns, const std::string& link) {
  ethtool_value value{.cmd = ETHTOOL_GTXCSUM};
  ethtool(netns, link, value,
          fmt::format("read TX checksum offload of {} in {}", link, describe_netns(netns)));
  return value.data != 0;
}

}  // namespace dogfish::lab
