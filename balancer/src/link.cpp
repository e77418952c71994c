#include "dogfish/link.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"

namespace dogfish {

namespace {

// An ifreq naming the interface, for an ioctl about it.
ifreq request_for(const std::string& ifname) {
  ifreq ifr{};
  if (ifname.empty() || ifname.size() >= sizeof(ifr.ifr_name))
    throw Error("'" + ifname + "' is not an interface name");
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
  return ifr;
}

// Asks about the device with any socket: the ioctl answers in the socket's namespace.
void ask(const std::string& what, unsigned long request, ifreq& ifr) {
  const UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) throw OsError(errno, "a socket to ask " + what);
  if (ioctl(fd.get(), request, &ifr) < 0) throw OsError(errno, "reading " + what);
}

}  // namespace

std::uint32_t interface_mtu(const std::string& ifname) {
  ifreq ifr = request_for(ifname);
  ask("the MTU of " + ifname, SIOCGIFMTU, ifr);
  return static_cast<std::uint32_t>(ifr.ifr_mtu);
}

bool interface_running(const std::string& ifname) {
  ifreq ifr = request_for(ifname);
  ask("the flags of " + ifname, SIOCGIFFLAGS, ifr);
  constexpr short kUp = IFF_UP | IFF_RUNNING;
  return (ifr.ifr_flags & kUp) == kUp;
}

}  // namespace dogfish
