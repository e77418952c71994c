#include "dogfish/neighbors.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "dogfish/base/errors.hpp"

namespace dogfish {
namespace {

struct Wanted {
  int family;
  uint8_t addr[16];
  int ifindex;
  std::optional<MacAddress> found;
};

constexpr uint16_t kUsable =
    NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT | NUD_NOARP;

int on_neighbor(const nlmsghdr* nlh, void* data) {
  auto* want = static_cast<Wanted*>(data);
  const auto* nd = static_cast<const ndmsg*>(mnl_nlmsg_get_payload(nlh));
  if (nd->ndm_family != want->family || nd->ndm_ifindex != want->ifindex ||
      !(nd->ndm_state & kUsable))
    return MNL_CB_OK;
  const nlattr* dst = nullptr;
  const nlattr* lladdr = nullptr;
  const auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  for (auto* attr = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(*nd)));
       mnl_attr_ok(attr, tail - reinterpret_cast<const char*>(attr)); attr = mnl_attr_next(attr)) {
    if (mnl_attr_get_type(attr) == NDA_DST) dst = attr;
    if (mnl_attr_get_type(attr) == NDA_LLADDR) lladdr = attr;
  }
  size_t alen = want->family == AF_INET ? 4 : 16;
  if (dst && lladdr && mnl_attr_get_payload_len(dst) == alen &&
      mnl_attr_get_payload_len(lladdr) == 6 &&
      std::memcmp(mnl_attr_get_payload(dst), want->addr, alen) == 0) {
    MacAddress mac;
    std::memcpy(mac.bytes.data(), mnl_attr_get_payload(lladdr), 6);
    want->found = mac;
  }
  return MNL_CB_OK;
}

Wanted parse_target(const std::string& address, const std::string& ifname) {
  Wanted want{};
  auto parsed = IpAddress::parse(address);
  if (!parsed) throw Error("gateway " + address + " is not an IPv4 or IPv6 address");
  want.family = parsed->is_v4() ? AF_INET : AF_INET6;
  std::memcpy(want.addr, parsed->bytes.data(), parsed->size());
  want.ifindex = if_nametoindex(ifname.c_str());
  if (!want.ifindex) throw OsError(errno, "interface " + ifname);
  return want;
}

void dump_neighbors(Wanted& want) {
  mnl_socket* nl = mnl_socket_open(NETLINK_ROUTE);
  if (!nl) throw OsError(errno, "opening rtnetlink");
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  try {
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) throw OsError(errno, "binding rtnetlink");
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = RTM_GETNEIGH;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
    auto* nd = static_cast<ndmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    nd->ndm_family = want.family;
    uint32_t seq = nlh->nlmsg_seq, portid = mnl_socket_get_portid(nl);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
      throw OsError(errno, "asking for the neighbour table");
    int ret;
    while ((ret = mnl_socket_recvfrom(nl, buf.data(), buf.size())) > 0) {
      ret = mnl_cb_run(buf.data(), ret, seq, portid, on_neighbor, &want);
      if (ret <= MNL_CB_STOP) break;
    }
    if (ret < 0) throw OsError(errno, "reading the neighbour table");
  } catch (...) {
    mnl_socket_close(nl);
    throw;
  }
  mnl_socket_close(nl);
}

// A datagram to the discard port makes the kernel resolve the neighbour.
void provoke_resolution(const Wanted& want, const std::string& ifname) {
  int fd = socket(want.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), ifname.size());
  sockaddr_storage ss{};
  socklen_t len;
  if (want.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(9);
    std::memcpy(&sin->sin_addr, want.addr, 4);
    len = sizeof(*sin);
  } else {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(9);
    std::memcpy(&sin6->sin6_addr, want.addr, 16);
    sin6->sin6_scope_id = want.ifindex;
    len = sizeof(*sin6);
  }
  sendto(fd, "", 0, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), len);
  close(fd);
}

}  // namespace

std::optional<MacAddress> lookup_neighbor(const std::string& address, const std::string& ifname) {
  Wanted want = parse_target(address, ifname);
  dump_neighbors(want);
  return want.found;
}

MacAddress resolve_neighbor(const std::string& address, const std::string& ifname,
                            std::chrono::milliseconds timeout) {
  Wanted want = parse_target(address, ifname);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto next_probe = std::chrono::steady_clock::now();
  for (;;) {
    dump_neighbors(want);
    if (want.found) return *want.found;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    if (now >= next_probe) {
      provoke_resolution(want, ifname);
      next_probe = now + std::chrono::milliseconds(500);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw Error("gateway " + address + " did not resolve to a MAC on " + ifname + " within " +
              std::to_string(timeout.count()) + " ms");
}

}  // namespace dogfish
