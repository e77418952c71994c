// The metrics endpoint's HTTP responder in an event loop, with clients on this thread.
#include "dogfish/http_server.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/socket_address.hpp"

namespace dogfish {
namespace {

using namespace std::chrono_literals;

class HttpServerTest : public ::testing::Test {
 protected:
  void start(HttpLimits limits = {}) {
    server =
        std::make_unique<HttpServer>(Endpoint{*IpAddress::parse("127.0.0.1"), 0}, loop, limits);
    server->start([this](std::string_view path) {
      ++handled;
      if (path == "/boom") throw Error("it broke");
      if (path != "/metrics") return HttpResponse{.status = 404, .body = "no\n"};
      return HttpResponse{.content_type = "text/plain; version=0.0.4", .body = "up 1\n"};
    });
  }

  UniqueFd client() {
    UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    const SocketAddress sa =
        socket_address(Endpoint{*IpAddress::parse("127.0.0.1"), server->port()});
    const int r = connect(fd.get(), sa.get(), sa.length);
    EXPECT_TRUE(r == 0 || errno == EINPROGRESS);
    loop.run_once(10ms);  // accepted
    return fd;
  }

  void send_text(int fd, const std::string& text) {
    ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), ssize_t(text.size()));
  }

  // Runs the loop until the server closed the connection: all it sent.
  std::string answer(int fd, std::chrono::milliseconds within = 5s) {
    std::string got;
    const auto end = EventLoop::Clock::now() + within;
    while (EventLoop::Clock::now() < end) {
      loop.run_once(10ms);
      char buf[4096];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) got.append(buf, std::size_t(n));
      if (n == 0 || (n < 0 && errno != EAGAIN)) return got;
    }
    return got + "<still open>";
  }

  std::string get(const std::string& request) {
    UniqueFd fd = client();
    send_text(fd.get(), request);
    return answer(fd.get());
  }

  EventLoop loop;
  std::unique_ptr<HttpServer> server;
  int handled = 0;
};

TEST_F(HttpServerTest, AnswersGetMetricsAndCloses) {
  start();
  EXPECT_EQ(get("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\nup 1\n");
  EXPECT_EQ(server->connections(), 0U);
}

TEST_F(HttpServerTest, HeadHasNoBodyAndAQueryIsIgnored) {
  start();
  const std::string a = get("HEAD /metrics?x=1 HTTP/1.0\n\n");
  EXPECT_TRUE(a.starts_with("HTTP/1.1 200 OK\r\n")) << a;
  EXPECT_TRUE(a.ends_with("Content-Length: 5\r\nConnection: close\r\n\r\n")) << a;
}

TEST_F(HttpServerTest, RefusesWhatIsNotAGet) {
  start();
  struct Case {
    const char* request;
    const char* status_line;
  };
  for (const Case& c : {Case{"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 Method Not Allowed"},
                        Case{"GET /other HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found"},
                        Case{"hello\r\n\r\n", "HTTP/1.1 400 Bad Request"},
                        Case{"GET / FTP/1.0\r\n\r\n", "HTTP/1.1 400 Bad Request"},
                        Case{"GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported"},
                        Case{"GET /boom HTTP/1.1\r\n\r\n", "HTTP/1.1 500 Internal Server Error"}}) {
    const std::string a = get(c.request);
    EXPECT_TRUE(a.starts_with(std::string(c.status_line) + "\r\n")) << c.request << " got " << a;
  }
  EXPECT_EQ(server->connections(), 0U);
}

TEST_F(HttpServerTest, AnOversizeRequestIsRefused) {
  start({.max_request_bytes = 100});
  UniqueFd fd = client();
  send_text(fd.get(), "GET /metrics HTTP/1.1\r\nX-Long: " + std::string(200, 'a'));
  const std::string a = answer(fd.get());
  EXPECT_TRUE(a.starts_with("HTTP/1.1 431 ")) << a;
  // Whole, in one go, but over the bound all the same.
  const std::string b =
      get("GET /metrics HTTP/1.1\r\nX-Long: " + std::string(200, 'a') + "\r\n\r\n");
  EXPECT_TRUE(b.starts_with("HTTP/1.1 431 ")) << b;
  EXPECT_EQ(handled, 0);
}

TEST_F(HttpServerTest, ASlowClientHoldsNobodyUpAndTimesOut) {
  start({.deadline = 300ms});
  UniqueFd slow = client();
  send_text(slow.get(), "GET /metrics HT");  // and nothing more
  // Others are answered meanwhile.
  EXPECT_TRUE(get("GET /metrics HTTP/1.1\r\n\r\n").ends_with("up 1\n"));
  EXPECT_TRUE(get("GET /metrics HTTP/1.1\r\n\r\n").ends_with("up 1\n"));
  EXPECT_EQ(server->connections(), 1U);
  const std::string a = answer(slow.get());
  EXPECT_TRUE(a.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << a;
  EXPECT_EQ(server->connections(), 0U);
}

TEST_F(HttpServerTest, ConnectionsOverTheCapAreClosed) {
  start({.max_connections = 2});
  UniqueFd a = client(), b = client();
  send_text(a.get(), "GET /metrics");
  send_text(b.get(), "GET /metrics");
  UniqueFd c = client();
  EXPECT_EQ(answer(c.get(), 1s), "") << "closed without an answer";
  EXPECT_EQ(server->connections(), 2U);
}

TEST_F(HttpServerTest, AnAddressInUseIsNamed) {
  start();
  try {
    HttpServer again(Endpoint{*IpAddress::parse("127.0.0.1"), server->port()}, loop);
    FAIL() << "bound twice";
  } catch (const OsError& e) {
    EXPECT_NE(std::string(e.what()).find(fmt::format("127.0.0.1:{}", server->port())),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dogfish
