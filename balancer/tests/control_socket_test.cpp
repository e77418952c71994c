// The control server in an event loop, with clients on this thread: no root needed.
#include "dogfish/control_socket.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"

namespace dogfish {
namespace {

using namespace std::chrono_literals;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/df-control-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/dogfish.sock";
  }
  void TearDown() override {
    server.reset();
    std::filesystem::remove_all(dir);
  }

  void start(ControlServer::Handler handler, ControlLimits limits = {}) {
    server = std::make_unique<ControlServer>(path, loop, limits);
    server->start(std::move(handler));
  }

  UniqueFd client() {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
    sockaddr_un sa{.sun_family = AF_UNIX};
    std::strcpy(sa.sun_path, path.c_str());
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    return fd;
  }

  // Runs the loop until the client has a whole line (or the server closed): what it got.
  std::string answer(int fd) {
    std::string got;
    auto end = EventLoop::Clock::now() + 5s;
    while (EventLoop::Clock::now() < end) {
      loop.run_once(10ms);
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n > 0) got.append(buf, std::size_t(n));
      if (n == 0 || got.ends_with('\n')) break;
    }
    return got;
  }

  bool closed_by_server(int fd) {
    auto end = EventLoop::Clock::now() + 5s;
    while (EventLoop::Clock::now() < end) {
      loop.run_once(10ms);
      char c;
      ssize_t n = recv(fd, &c, 1, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN)) return true;
    }
    return false;
  }

  void send_text(int fd, const std::string& text) {
    ASSERT_EQ(send(fd, text.data(), text.size(), MSG_NOSIGNAL), ssize_t(text.size()));
  }

  std::string dir, path;
  EventLoop loop;
  std::unique_ptr<ControlServer> server;
};

std::string echo(std::string_view line) { return "{\"echo\":" + std::string(line) + "}"; }

TEST_F(ControlServerTest, AnswersEachLineInOrder) {
  start(echo);
  UniqueFd c = client();
  send_text(c.get(), "1\n2\n");
  std::string got = answer(c.get());
  while (std::count(got.begin(), got.end(), '\n') < 2) got += answer(c.get());
  EXPECT_EQ(got, "{\"echo\":1}\n{\"echo\":2}\n");
}

TEST_F(ControlServerTest, AHandlerThatThrowsEndsOnlyThatConnection) {
  start([](std::string_view line) -> std::string {
    if (line == "boom") throw std::logic_error("it broke");
    return echo(line);
  });
  UniqueFd bad = client(), good = client();
  send_text(bad.get(), "boom\n");
  EXPECT_EQ(answer(bad.get()), "{\"error\":\"it broke\"}\n");
  EXPECT_TRUE(closed_by_server(bad.get()));
  send_text(good.get(), "7\n");
  EXPECT_EQ(answer(good.get()), "{\"echo\":7}\n");
}

TEST_F(ControlServerTest, ARequestOverTheCapIsRefusedAndClosed) {
  start(echo, {.max_request_bytes = 100});
  UniqueFd c = client();
  send_text(c.get(), std::string(101, 'x'));
  EXPECT_EQ(answer(c.get()), "{\"error\":\"request over 100 bytes\"}\n");
  EXPECT_TRUE(closed_by_server(c.get()));
  EXPECT_EQ(server->connections(), 0u);
}

TEST_F(ControlServerTest, ARequestAtTheCapIsServed) {
  start([](std::string_view line) { return std::to_string(line.size()); },
        {.max_request_bytes = 100});
  UniqueFd c = client();
  send_text(c.get(), std::string(100, 'x') + "\n");
  EXPECT_EQ(answer(c.get()), "100\n");
}

TEST_F(ControlServerTest, AnUnfinishedRequestIsCutAtItsDeadline) {
  start(echo, {.request_deadline = 50ms});
  UniqueFd c = client();
  send_text(c.get(), "{\"cmd\":");
  EXPECT_EQ(answer(c.get()), "{\"error\":\"request not complete within 50 ms (the deadline)\"}\n");
  EXPECT_TRUE(closed_by_server(c.get()));
}

TEST_F(ControlServerTest, ConnectionsOverTheCapAreAnsweredAndClosed) {
  start(echo, {.max_connections = 2});
  UniqueFd a = client(), b = client(), c = client();
  EXPECT_EQ(answer(c.get()), "{\"error\":\"too many connections (2): try again later\"}\n");
  EXPECT_EQ(server->connections(), 2u);
  a.reset();
  send_text(b.get(), "1\n");
  EXPECT_EQ(answer(b.get()), "{\"echo\":1}\n");
}

TEST_F(ControlServerTest, AClientThatHalfClosesStillGetsItsAnswer) {
  start(echo);
  UniqueFd c = client();
  send_text(c.get(), "5\n");
  shutdown(c.get(), SHUT_WR);
  EXPECT_EQ(answer(c.get()), "{\"echo\":5}\n");
  EXPECT_TRUE(closed_by_server(c.get()));
}

TEST_F(ControlServerTest, InvalidUtf8InAnErrorIsReplacedNotThrown) {
  start([](std::string_view line) -> std::string { throw Error(std::string(line)); });
  UniqueFd c = client();
  send_text(c.get(), "\xff\n");
  EXPECT_EQ(answer(c.get()), "{\"error\":\"\xEF\xBF\xBD\"}\n");
}

TEST_F(ControlServerTest, AFileThatIsNotASocketIsNotReplaced) {
  std::ofstream(path) << "precious\n";
  EXPECT_THROW(
      {
        try {
          ControlServer s(path, loop);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("exists and is not a socket"), std::string::npos);
          throw;
        }
      },
      Error);
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "precious");
}

TEST_F(ControlServerTest, AStaleSocketIsReplacedAndALiveOneIsNot) {
  {
    ControlServer live(path, loop);
    EXPECT_THROW(ControlServer second(path, loop), Error);
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  // A socket file with nobody listening: what a killed daemon leaves.
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM, 0));
  sockaddr_un sa{.sun_family = AF_UNIX};
  std::strcpy(sa.sun_path, path.c_str());
  ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  fd.reset();
  start(echo);
  UniqueFd c = client();
  send_text(c.get(), "3\n");
  EXPECT_EQ(answer(c.get()), "{\"echo\":3}\n");
}

TEST_F(ControlServerTest, TheServerRemovesOnlyItsOwnSocket) {
  start(echo);
  std::filesystem::remove(path);
  std::ofstream(path) << "someone else's\n";
  server.reset();
  EXPECT_TRUE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace dogfish
