// Named namespaces, veths, addresses, routes, sysctls and offloads made for real (root):
// each test makes its own dfnltest-PID-* namespaces and removes them even when it fails.
// iproute2 and ethtool read back what the library made, as an independent witness.
#include "dogfish/lab/netlink.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/base/socket_address.hpp"
#include "dogfish/lab/netns.hpp"

namespace dogfish::lab {
namespace {

const std::string test_prefix = "dfnltest-";

std::string own_prefix() { return test_prefix + std::to_string(getpid()) + "-"; }

IpPrefix prefix(const char* text) {
  auto parsed = IpPrefix::parse(text);
  if (!parsed) throw std::invalid_argument(text);
  return *parsed;
}

IpAddress address(const char* text) {
  auto parsed = IpAddress::parse(text);
  if (!parsed) throw std::invalid_argument(text);
  return *parsed;
}

// stdout of a shell command, for iproute2 and ethtool as witnesses.
std::string shell(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen " + command);
  std::array<char, 4096> buffer;
  std::size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  pclose(pipe);
  return output;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

ino_t inode(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    throw std::runtime_error("stat " + path + ": " + std::strerror(errno));
  return st.st_ino;
}

// Whether the running kernel was built with a feature (=y or =m); nothing when it does not say.
std::optional<bool> kernel_has(const std::string& option) {
  std::string config = shell("zcat /proc/config.gz 2>/dev/null");
  if (config.empty()) return std::nullopt;
  return contains(config, "\n" + option + "=y") || contains(config, "\n" + option + "=m");
}

// A UDP socket made on a thread inside `netns`: it stays in that namespace's stack.
UniqueFd udp_socket(const std::string& netns, int family) {
  auto [fd, error] = in_netns(netns, [family] {
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return std::pair{fd, errno};
  });
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(error));
  return UniqueFd(fd);
}

// 0 or the errno of bind(ip, port) on a socket made inside `netns`.
int bind_error(const UniqueFd& socket, const IpAddress& ip, std::uint16_t port) {
  const SocketAddress where = socket_address({ip, port});
  return bind(socket.get(), where.get(), where.length) == 0 ? 0 : errno;
}

// Sends one datagram from `from_netns` to to:port, where a socket in `to_netns` waits for it;
// returns what arrived and from which address ("" when nothing came within the deadline).
std::pair<std::string, std::string> send_datagram(const std::string& from_netns,
                                                  const std::string& to_netns, const IpAddress& to,
                                                  std::uint16_t port, const std::string& payload) {
  int family = to.is_v4() ? AF_INET : AF_INET6;
  UniqueFd receiver = udp_socket(to_netns, family);
  if (int error = bind_error(receiver, to, port))
    throw std::runtime_error(std::string("bind the receiver: ") + std::strerror(error));
  UniqueFd sender = udp_socket(from_netns, family);
  const SocketAddress destination = socket_address({to, port});
  if (sendto(sender.get(), payload.data(), payload.size(), 0, destination.get(),
             destination.length) < 0)
    throw std::runtime_error(std::string("sendto: ") + std::strerror(errno));

  // The first datagram waits for ARP/NDP; the deadline is generous, the poll returns at once.
  pollfd ready{.fd = receiver.get(), .events = POLLIN};
  if (poll(&ready, 1, 5000) != 1) return {"", ""};
  std::array<char, 1500> buffer;
  sockaddr_storage source{};
  socklen_t source_length = sizeof source;
  ssize_t n = recvfrom(receiver.get(), buffer.data(), buffer.size(), 0,
                       reinterpret_cast<sockaddr*>(&source), &source_length);
  if (n < 0) throw std::runtime_error(std::string("recvfrom: ") + std::strerror(errno));
  char text[INET6_ADDRSTRLEN] = "";
  if (source.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&source)->sin_addr, text, sizeof text);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&source)->sin6_addr, text, sizeof text);
  return {std::string(buffer.data(), static_cast<std::size_t>(n)), text};
}

// The link as links() lists it; throws (failing the test, not crashing it) when it is absent.
LinkInfo listed_link(const Netlink& netlink, const std::string& name) {
  auto links = netlink.links();
  auto it =
      std::find_if(links.begin(), links.end(), [&](const LinkInfo& l) { return l.name == name; });
  if (it == links.end())
    throw std::runtime_error("links() lists no " + name + " in " + netlink.netns());
  return *it;
}

template <typename F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

class NetlinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root: makes network namespaces";
  }
  void TearDown() override { remove_all(); }
  ~NetlinkTest() override { remove_all(); }

  // A namespace for this test, removed after it whatever happens. A "new" namespace that
  // is the test's own would let the test rewire the host: stop there.
  std::string make_netns(const std::string& suffix) {
    std::string name = own_prefix() + suffix;
    create_netns(name);
    made_.push_back(name);
    if (inode(netns_path(name)) == inode("/proc/self/ns/net"))
      throw std::logic_error(name + " is the test's own network namespace");
    return name;
  }
  // Namespaces "a" and "b" of this test, joined by a veth (dfa in a, dfb in b), both ends down.
  std::pair<std::string, std::string> make_joined_pair(std::uint32_t mtu) {
    std::string a = make_netns("a");
    std::string b = make_netns("b");
    Netlink(a).add_veth("dfa", b, "dfb", mtu);
    return {a, b};
  }

 private:
  void remove_all() noexcept {
    for (const auto& name : made_) {
      try {
        delete_netns(name);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "remove " << name << ": " << e.what();
      }
    }
    made_.clear();
  }

  std::vector<std::string> made_;
};

TEST_F(NetlinkTest, NamespacesAreCreatedListedAndDeletedLikeIpNetns) {
  ino_t own = inode("/proc/thread-self/ns/net");
  std::string a = make_netns("a");
  std::string b = make_netns("b");

  EXPECT_TRUE(netns_exists(a));
  auto names = list_netns();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_NE(std::find(names.begin(), names.end(), a), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), b), names.end());
  // Two new namespaces, neither of them the caller's, which stays where it was.
  EXPECT_NE(inode(netns_path(a)), inode(netns_path(b)));
  EXPECT_NE(inode(netns_path(a)), own);
  EXPECT_EQ(inode("/proc/thread-self/ns/net"), own);
  // iproute2 sees and uses them.
  EXPECT_TRUE(contains(shell("ip netns list"), a));
  EXPECT_TRUE(contains(shell("ip -n " + a + " -o link show lo"), "lo:"));

  std::string message = error_of([&] { create_netns(a); });
  EXPECT_EQ(message, "network namespace '" + a + "' already exists");
  EXPECT_TRUE(netns_exists(a));  // the failed create left it alone
  EXPECT_NO_THROW({ NetnsFd fd(a); });

  EXPECT_TRUE(delete_netns(b));
  EXPECT_FALSE(netns_exists(b));
  EXPECT_FALSE(delete_netns(b));
  names = list_netns();
  EXPECT_EQ(std::find(names.begin(), names.end(), b), names.end());
  EXPECT_FALSE(contains(shell("ip netns list"), b));
}

TEST_F(NetlinkTest, InNetnsRunsInsideReturnsAndRethrowsWithoutMovingTheCaller) {
  std::string a = make_netns("a");
  ino_t own = inode("/proc/thread-self/ns/net");

  ino_t inside = in_netns(a, [] { return inode("/proc/thread-self/ns/net"); });
  EXPECT_EQ(inside, inode(netns_path(a)));
  EXPECT_EQ(inode("/proc/thread-self/ns/net"), own);

  bool ran = false;
  in_netns(a, [&] { ran = true; });
  EXPECT_TRUE(ran);
  EXPECT_THROW(in_netns(a, []() -> int { throw std::logic_error("from inside"); }),
               std::logic_error);
  EXPECT_EQ(in_netns("", [] { return inode("/proc/thread-self/ns/net"); }), own);

  // enter_netns moves the calling thread for good: a thread of its own here.
  ino_t entered = 0;
  std::thread([&] {
    enter_netns(a);
    entered = inode("/proc/thread-self/ns/net");
  }).join();
  EXPECT_EQ(entered, inode(netns_path(a)));
  EXPECT_EQ(inode("/proc/thread-self/ns/net"), own);
}

TEST_F(NetlinkTest, VethAddressesAndRoutesCarryADatagramBetweenNamespaces) {
  const auto [a, b] = make_joined_pair(1600);
  Netlink na(a);
  Netlink nb(b);

  LinkInfo end_a = listed_link(na, "dfa");
  LinkInfo end_b = listed_link(nb, "dfb");
  EXPECT_EQ(end_a.mtu, 1600u);
  EXPECT_EQ(end_b.mtu, 1600u);
  EXPECT_EQ(end_a.kind, "veth");
  EXPECT_EQ(end_b.kind, "veth");
  EXPECT_FALSE(end_a.up);
  EXPECT_FALSE(end_b.up);
  EXPECT_EQ(end_a.ifindex, na.ifindex("dfa"));
  EXPECT_EQ(listed_link(na, "lo").kind, "");  // no IFLA_INFO_KIND
  EXPECT_FALSE(na.has_link("dfb"));
  EXPECT_FALSE(Netlink().has_link("dfa"));  // nothing in the caller's namespace
  EXPECT_TRUE(contains(shell("ip -n " + b + " -o link show dfb"), "mtu 1600"));

  na.set_up("dfa");
  na.set_up("lo");
  nb.set_up("dfb");
  nb.set_up("lo");
  EXPECT_TRUE(listed_link(na, "dfa").up);
  EXPECT_TRUE(listed_link(nb, "dfb").up);

  na.add_address("dfa", prefix("10.0.1.1/24"));
  // IPv6 usable at once: a tentative address refuses bind() with EADDRNOTAVAIL.
  na.add_address("dfa", prefix("fd00:1::1/64"));
  UniqueFd early = udp_socket(a, AF_INET6);
  EXPECT_EQ(bind_error(early, address("fd00:1::1"), 0), 0);
  // The same bind on an address added with DAD shows that the check can fail.
  ASSERT_EQ(std::system(("ip -n " + a + " addr add fd00:1::99/64 dev dfa").c_str()), 0);
  UniqueFd tentative = udp_socket(a, AF_INET6);
  EXPECT_EQ(bind_error(tentative, address("fd00:1::99"), 0), EADDRNOTAVAIL);
  // And gone again: once its DAD ends (sooner than this test on a slow machine) it would
  // compete with fd00:1::1 as the source of the datagram below.
  ASSERT_EQ(std::system(("ip -n " + a + " addr del fd00:1::99/64 dev dfa").c_str()), 0);

  nb.add_address("dfb", prefix("10.0.1.2/24"));
  nb.add_address("dfb", prefix("fd00:1::2/64"));
  nb.add_address("lo", prefix("192.0.2.7/32"));
  nb.add_address("lo", prefix("2001:db8::7/128"));

  std::vector<IpPrefix> expected_b{prefix("10.0.1.2/24"), prefix("fd00:1::2/64")};
  EXPECT_EQ(nb.addresses("dfb"), expected_b);
  auto all_b = nb.addresses();
  std::sort(all_b.begin(), all_b.end());
  std::vector<IpPrefix> expected_all_b{prefix("10.0.1.2/24"), prefix("192.0.2.7/32"),
                                       prefix("2001:db8::7/128"), prefix("fd00:1::2/64")};
  std::sort(expected_all_b.begin(), expected_all_b.end());
  EXPECT_EQ(all_b, expected_all_b);  // no 127.0.0.1, ::1 or fe80::

  std::string duplicate = error_of([&] { na.add_address("dfa", prefix("10.0.1.1/24")); });
  EXPECT_EQ(duplicate, "add 10.0.1.1/24 to dfa in network namespace '" + a + "': File exists");

  // Routes to addresses only b's loopback has: a /32 and the IPv6 default.
  na.add_route(prefix("192.0.2.7/32"), address("10.0.1.2"), 1440);
  na.add_route(std::nullopt, address("fd00:1::2"));
  std::string v4_routes = shell("ip -n " + a + " route show 192.0.2.7/32");
  EXPECT_TRUE(contains(v4_routes, "via 10.0.1.2 dev dfa")) << v4_routes;
  EXPECT_TRUE(contains(v4_routes, "advmss 1440")) << v4_routes;
  std::string v6_routes = shell("ip -n " + a + " -6 route show default");
  EXPECT_TRUE(contains(v6_routes, "via fd00:1::2 dev dfa")) << v6_routes;
  EXPECT_FALSE(contains(v6_routes, "advmss")) << v6_routes;
  EXPECT_TRUE(
      shell("ip -n " + a + " route show default").empty());  // the IPv4 default stays absent

  std::string again = error_of([&] { na.add_route(prefix("192.0.2.7/32"), address("10.0.1.2")); });
  EXPECT_TRUE(contains(again, "192.0.2.7/32 via 10.0.1.2")) << again;
  EXPECT_TRUE(contains(again, a)) << again;
  EXPECT_TRUE(contains(again, "File exists")) << again;

  auto [v4_payload, v4_source] = send_datagram(a, b, address("192.0.2.7"), 4242, "over the /32");
  EXPECT_EQ(v4_payload, "over the /32");
  EXPECT_EQ(v4_source, "10.0.1.1");
  auto [v6_payload, v6_source] =
      send_datagram(a, b, address("2001:db8::7"), 4243, "over the default");
  EXPECT_EQ(v6_payload, "over the default");
  EXPECT_EQ(v6_source, "fd00:1::1");
}

// A prefix made local on lo (how a real takes a prefix VIP): every address of it is the
// namespace's own, in the local table, in both families.
TEST_F(NetlinkTest, ALocalRouteMakesEveryAddressOfAPrefixLocal) {
  const auto [a, b] = make_joined_pair(1500);
  Netlink na(a);
  Netlink nb(b);
  for (const char* link : {"dfa", "lo"}) na.set_up(link);
  for (const char* link : {"dfb", "lo"}) nb.set_up(link);
  na.add_address("dfa", prefix("10.0.1.1/24"));
  nb.add_address("dfb", prefix("10.0.1.2/24"));
  nb.add_local_route("lo", prefix("198.51.100.0/24"));
  nb.add_local_route("lo", prefix("2001:db8:1::/120"));
  const std::string v4 = shell("ip -n " + b + " route show table local 198.51.100.0/24");
  EXPECT_TRUE(contains(v4, "local 198.51.100.0/24 dev lo")) << v4;
  const std::string v6 = shell("ip -n " + b + " -6 route show table local 2001:db8:1::/120");
  EXPECT_TRUE(contains(v6, "local 2001:db8:1::/120 dev lo")) << v6;
  na.add_route(prefix("198.51.100.0/24"), address("10.0.1.2"));
  auto [payload, source] = send_datagram(a, b, address("198.51.100.77"), 4244, "to the prefix");
  EXPECT_EQ(payload, "to the prefix");
  const std::string again = error_of([&] { nb.add_local_route("lo", prefix("198.51.100.0/24")); });
  EXPECT_TRUE(contains(again, "local 198.51.100.0/24 on lo")) << again;
  EXPECT_TRUE(contains(again, "File exists")) << again;
}

// A dump that an address change interrupts is taken again; each address is listed once all
// the same. (CI's emulated guest listed every address twice: its slow dump met the links'
// own IPv6 link-local addresses coming up.)
TEST_F(NetlinkTest, ListsStayWholeAndSingleWhileAddressesChange) {
  std::string a = make_netns("a");
  Netlink na(a);
  na.add_veth("dfa", a, "dfb", 1500);
  na.set_up("lo");
  na.add_address("dfa", prefix("10.0.1.1/24"));
  na.add_address("dfa", prefix("fd00:1::1/64"));
  for (int i = 0; i < 400; ++i)  // a dump of several messages
    na.add_address("dfb", prefix(fmt::format("10.2.{}.{}/16", i / 200, i % 200 + 1).c_str()));
  const std::vector<IpPrefix> expected{prefix("10.0.1.1/24"), prefix("fd00:1::1/64")};

  // Another process adds and removes an address on lo as fast as it can while the lists below
  // run for 2 s.
  std::string batch = ::testing::TempDir() + "/dfnltest-churn-" + std::to_string(getpid());
  {
    FILE* out = std::fopen(batch.c_str(), "w");
    ASSERT_NE(out, nullptr);
    for (int i = 0; i < 20000; ++i)
      std::fprintf(out, "addr add 192.0.2.1/32 dev lo\naddr del 192.0.2.1/32 dev lo\n");
    std::fclose(out);
  }
  std::string command = "timeout 20 ip -n " + a + " -force -batch " + batch + " >/dev/null 2>&1";
  // Stopped and joined however the test leaves this scope.
  struct Churn {
    std::string netns, batch;
    std::thread thread;
    ~Churn() {
      std::system(("ip netns pids " + netns + " | xargs -r kill").c_str());
      if (thread.joinable()) thread.join();
      std::remove(batch.c_str());
    }
  } churn{a, batch, std::thread([command] { std::system(command.c_str()); })};

  // Under a churn this relentless a list may give up (a dump interrupted 100 times in a row
  // is an error, and says so); a list that comes back must be whole and single.
  int listed = 0, wrong = 0, gave_up = 0;
  std::vector<IpPrefix> example;
  std::string refusal;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (; std::chrono::steady_clock::now() < end; ++listed) {
    try {
      auto found = na.addresses("dfa");
      if (found != expected && wrong++ == 0) example = found;
      std::size_t links = na.links().size();
      if (links != 3 && wrong++ == 0) example.clear();
    } catch (const Error& e) {
      gave_up++;
      refusal = e.what();
    }
  }
  EXPECT_EQ(wrong, 0) << wrong << " of " << listed << " lists were not whole and single, e.g. "
                      << example.size() << " addresses";
  EXPECT_LT(gave_up, listed) << "no list came back; the last refusal: " << refusal;
  if (gave_up > 0) {
    EXPECT_TRUE(contains(refusal, "interrupted")) << refusal;
  }
  std::printf("%d lists under churn: %d whole and single, %d gave up\n", listed,
              listed - gave_up - wrong, gave_up);
}

TEST_F(NetlinkTest, SetMtuAndDeleteLinkActOnBothEndsOfAVeth) {
  std::string a = make_netns("a");
  std::string b = make_netns("b");
  Netlink na(a);
  Netlink nb(b);
  na.add_veth("dfa", b, "dfb", 1500);

  na.set_mtu("dfa", 1540);
  EXPECT_EQ(listed_link(na, "dfa").mtu, 1540u);
  EXPECT_EQ(listed_link(nb, "dfb").mtu, 1500u);

  Netlink moved = std::move(na);  // move-only: the socket, bound to a, goes along
  moved.delete_link("dfa");
  EXPECT_FALSE(moved.has_link("dfa"));
  EXPECT_FALSE(nb.has_link("dfb"));

  // Both ends in one namespace.
  moved.add_veth("dfx", "", "dfy", 1500);
  EXPECT_TRUE(moved.has_link("dfx"));
  EXPECT_TRUE(moved.has_link("dfy"));
}

TEST_F(NetlinkTest, SysctlsAreWrittenInsideTheNamespaceOnly) {
  std::string a = make_netns("a");
  const std::string key = "net/ipv4/ip_forward";
  std::string host = read_sysctl("", key);
  std::string other = host == "1" ? "0" : "1";

  set_sysctl(a, key, other);
  EXPECT_EQ(read_sysctl(a, key), other);
  EXPECT_EQ(read_sysctl(a, "net.ipv4.ip_forward"), other);
  EXPECT_EQ(read_sysctl("", key), host);
  EXPECT_TRUE(contains(shell("ip netns exec " + a + " sysctl -n net.ipv4.ip_forward"), other));

  set_sysctl(a, "net.ipv4.conf.all.rp_filter", "2");
  EXPECT_EQ(read_sysctl(a, "net/ipv4/conf/all/rp_filter"), "2");
}

TEST_F(NetlinkTest, TxChecksumOffloadTurnsOffAndOn) {
  std::string a = make_netns("a");
  Netlink na(a);
  na.add_veth("dfa", "", "dfb", 1500);

  EXPECT_TRUE(tx_checksum(a, "dfa"));  // veth's default
  set_tx_checksum(a, "dfa", false);
  EXPECT_FALSE(tx_checksum(a, "dfa"));
  EXPECT_TRUE(tx_checksum(a, "dfb"));
  EXPECT_TRUE(contains(shell("ip netns exec " + a + " ethtool -k dfa"), "tx-checksumming: off"));
  set_tx_checksum(a, "dfa", true);
  EXPECT_TRUE(tx_checksum(a, "dfa"));
}

TEST_F(NetlinkTest, KernelTunnelsAreMadeOnlyWhereTheKernelHasThem) {
  std::string a = make_netns("a");
  Netlink na(a);
  auto before = na.links();

  bool ipip = na.add_ipip("dfip", address("10.0.1.1"));
  EXPECT_EQ(na.has_link("dfip"), ipip);
  if (auto has = kernel_has("CONFIG_NET_IPIP")) {
    EXPECT_EQ(ipip, *has);
  }
  if (ipip) {
    EXPECT_EQ(listed_link(na, "dfip").kind, "ipip");
    EXPECT_TRUE(listed_link(na, "dfip").up);
  }

  bool ip6tnl = na.add_ip6tnl("dfip6", address("fd00:1::1"));
  EXPECT_EQ(na.has_link("dfip6"), ip6tnl);
  if (auto has = kernel_has("CONFIG_IPV6_TUNNEL")) {
    EXPECT_EQ(ip6tnl, *has);
  }
  if (ip6tnl) {
    EXPECT_EQ(listed_link(na, "dfip6").kind, "ip6tnl");
    EXPECT_TRUE(listed_link(na, "dfip6").up);
  }
  if (!ipip && !ip6tnl) {
    EXPECT_EQ(na.links().size(), before.size());  // nothing left behind
  }

  EXPECT_TRUE(
      contains(error_of([&] { na.add_ipip("dfip4", address("fd00:1::1")); }), "must be IPv4"));
  EXPECT_TRUE(
      contains(error_of([&] { na.add_ip6tnl("dfip6b", address("10.0.1.1")); }), "must be IPv6"));
}

TEST_F(NetlinkTest, ErrorsNameTheLinkAndTheNamespace) {
  std::string a = make_netns("a");
  std::string absent = own_prefix() + "absent";
  Netlink na(a);
  std::string no_link = "no link 'nope' in network namespace '" + a + "'";

  EXPECT_EQ(error_of([&] { na.ifindex("nope"); }), no_link);
  EXPECT_EQ(error_of([&] { na.set_up("nope"); }), no_link);
  EXPECT_EQ(error_of([&] { na.set_mtu("nope", 1500); }), no_link);
  EXPECT_EQ(error_of([&] { na.delete_link("nope"); }), no_link);
  EXPECT_EQ(error_of([&] { na.add_address("nope", prefix("10.0.1.1/24")); }), no_link);
  EXPECT_EQ(error_of([&] { na.addresses("nope"); }), no_link);
  EXPECT_EQ(error_of([&] { set_tx_checksum(a, "nope", false); }), no_link);
  EXPECT_TRUE(
      contains(error_of([&] { na.ifindex("a-name-far-too-long"); }), "a-name-far-too-long"));

  try {
    Netlink{absent};
    ADD_FAILURE() << "Netlink opened in an absent namespace";
  } catch (const OsError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_TRUE(contains(e.what(), "'" + absent + "'")) << e.what();
  }
  std::string peer_absent = error_of([&] { na.add_veth("dfa", absent, "dfb", 1500); });
  EXPECT_TRUE(contains(peer_absent, absent)) << peer_absent;
  EXPECT_FALSE(na.has_link("dfa"));
  EXPECT_TRUE(contains(error_of([&] { read_sysctl(absent, "net/ipv4/ip_forward"); }), absent));

  try {
    set_sysctl(a, "net/ipv4/no_such_key", "7");
    ADD_FAILURE() << "wrote an absent sysctl";
  } catch (const OsError& e) {
    EXPECT_EQ(e.code(), ENOENT);
    EXPECT_EQ(e.where(), "set sysctl net/ipv4/no_such_key to 7 in network namespace '" + a + "'");
  }
  EXPECT_THROW(set_sysctl(a, "../../etc/passwd", "x"), Error);

  EXPECT_THROW(create_netns("a/b"), Error);
  EXPECT_THROW(create_netns(".."), Error);
  EXPECT_THROW(create_netns(""), Error);
  EXPECT_FALSE(netns_exists(absent));
  EXPECT_FALSE(delete_netns(absent));
}

// A run that crashed could not remove its namespaces: the next run removes those of dead
// processes first. Whatever this run's tests did, none of its namespaces may outlive it.
class NamespacesOfThisTest : public ::testing::Environment {
 public:
  void SetUp() override {
    if (geteuid() != 0) return;
    for (const auto& name : list_netns()) {
      if (name.rfind(test_prefix, 0) != 0) continue;
      pid_t pid = static_cast<pid_t>(std::strtol(name.c_str() + test_prefix.size(), nullptr, 10));
      if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) delete_netns(name);
    }
  }
  void TearDown() override {
    for (const auto& name : list_netns())
      EXPECT_NE(name.rfind(own_prefix(), 0), 0u) << "left behind: " << name;
  }
};
const auto* const namespaces_of_this_test =
    ::testing::AddGlobalTestEnvironment(new NamespacesOfThisTest);

}  // namespace
}  // namespace dogfish::lab
