#include "dogfish/link.hpp"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"

namespace dogfish {

std::uint32_t interface_mtu(const std::string& ifname) {
  ifreq ifr{};
  if (ifname.empty() || ifname.size() >= sizeof(ifr.ifr_name))
    throw Error("'" + ifname + "' is not an interface name");
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size());
  // Any socket will do: SIOCGIFMTU asks about the device, in the socket's namespace.
  const UniqueFd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) throw OsError(errno, "a socket to ask the MTU of " + ifname);
  if (ioctl(fd.get(), SIOCGIFMTU, &ifr) < 0) throw OsError(errno, "reading the MTU of " + ifname);
  return static_cast<std::uint32_t>(ifr.ifr_mtu);
}

}  // namespace dogfish
