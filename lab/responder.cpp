// dogfish-responder: the service on every real of the lab. On each TCP port it
// answers `GET /` with 200 and "<name>\n" (HTTP/1.0, one request a connection);
// on each UDP port it answers any datagram with "<name>\n". IPv4 and IPv6 alike
// (one dual-stack socket a port), so tests see which real served a flow.
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "dogfish/base/version.hpp"

namespace {

volatile sig_atomic_t g_stop = 0;

[[noreturn]] void die(const std::string& what) {
  std::cerr << "dogfish-responder: " << what << ": " << std::strerror(errno) << "\n";
  std::exit(1);
}

int listen_on(int type, uint16_t port) {
  int fd = socket(AF_INET6, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int zero = 0, one = 1;
  setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // IPv4 too, as mapped
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Replies must leave from the VIP the request was sent to (DSR): the socket is
  // bound to the wildcard, and the kernel answers TCP from the connection's own
  // address; for UDP we send from the datagram's destination below.
  setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
  setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons(port);
  addr.sin6_addr = in6addr_any;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    die((type == SOCK_STREAM ? "tcp port " : "udp port ") + std::to_string(port));
  if (type == SOCK_STREAM && listen(fd, 1024) < 0) die("listen");
  return fd;
}

// Answers one datagram from the address it was sent to.
void answer_datagram(int fd, const std::string& reply) {
  char buf[2048], cbuf[256];
  sockaddr_in6 peer{};
  iovec iov{buf, sizeof buf};
  msghdr msg{};
  msg.msg_name = &peer;
  msg.msg_namelen = sizeof peer;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  while (recvmsg(fd, &msg, 0) >= 0) {
    // Send back with the same control data: the pktinfo names the local address.
    iovec out{const_cast<char*>(reply.data()), reply.size()};
    msghdr rep{};
    rep.msg_name = &peer;
    rep.msg_namelen = msg.msg_namelen;
    rep.msg_iov = &out;
    rep.msg_iovlen = 1;
    rep.msg_control = cbuf;
    rep.msg_controllen = msg.msg_controllen;
    for (cmsghdr* c = CMSG_FIRSTHDR(&rep); c; c = CMSG_NXTHDR(&rep, c)) {
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
        reinterpret_cast<in6_pktinfo*>(CMSG_DATA(c))->ipi6_ifindex = 0;
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
        reinterpret_cast<in_pktinfo*>(CMSG_DATA(c))->ipi_ifindex = 0;
    }
    sendmsg(fd, &rep, MSG_DONTWAIT);
    msg.msg_namelen = sizeof peer;
    msg.msg_controllen = sizeof cbuf;
  }
}

struct Conn {
  std::string in;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dogfish-responder: answers with this real's name on TCP (HTTP) and UDP ports"};
  app.set_version_flag("--version", dogfish::version_text("dogfish-responder"));
  std::string name;
  std::vector<uint16_t> tcp_ports, udp_ports;
  app.add_option("--name", name, "the real's name, sent back in every answer")->required();
  app.add_option("--tcp", tcp_ports, "TCP port(s) to answer HTTP on");
  app.add_option("--udp", udp_ports, "UDP port(s) to answer datagrams on");
  CLI11_PARSE(app, argc, argv);
  if (tcp_ports.empty() && udp_ports.empty()) {
    std::cerr << "dogfish-responder: give at least one --tcp or --udp port\n";
    return 2;
  }

  signal(SIGTERM, [](int) { g_stop = 1; });
  signal(SIGINT, [](int) { g_stop = 1; });
  signal(SIGPIPE, SIG_IGN);
  const std::string body = name + "\n";
  const std::string http = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;

  int ep = epoll_create1(EPOLL_CLOEXEC);
  std::map<int, char> listeners;  // fd -> 't' or 'u'
  for (uint16_t p : tcp_ports) listeners[listen_on(SOCK_STREAM, p)] = 't';
  for (uint16_t p : udp_ports) listeners[listen_on(SOCK_DGRAM, p)] = 'u';
  for (auto& [fd, kind] : listeners) {
    epoll_event ev{.events = EPOLLIN, .data = {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  std::map<int, Conn> conns;
  std::cout << "dogfish-responder " << name << " ready" << std::endl;

  epoll_event events[64];
  while (!g_stop) {
    int n = epoll_wait(ep, events, 64, 500);
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      auto l = listeners.find(fd);
      if (l != listeners.end() && l->second == 'u') {
        answer_datagram(fd, body);
      } else if (l != listeners.end()) {
        int c;
        while ((c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          epoll_event ev{.events = EPOLLIN | EPOLLRDHUP, .data = {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
          conns[c] = {};
        }
      } else {
        Conn& conn = conns[fd];
        char buf[4096];
        ssize_t r;
        bool closed = false;
        while ((r = read(fd, buf, sizeof buf)) > 0) conn.in.append(buf, r);
        if (r == 0 || (r < 0 && errno != EAGAIN)) closed = true;
        // A request ends at its blank line; long-lived test clients may send many.
        size_t end;
        while ((end = conn.in.find("\r\n\r\n")) != std::string::npos) {
          std::string head = conn.in.substr(0, end);
          conn.in.erase(0, end + 4);
          bool keep = head.find("keep-alive") != std::string::npos;
          std::string reply = http;
          if (keep) {
            reply.replace(reply.find("Connection: close"), 17, "Connection: keep-alive");
            reply.replace(reply.find("HTTP/1.0"), 8, "HTTP/1.1");
          }
          if (write(fd, reply.data(), reply.size()) < 0 || !keep) closed = true;
        }
        if (closed) {
          close(fd);  // closing removes it from epoll
          conns.erase(fd);
        }
      }
    }
  }
  return 0;
}
