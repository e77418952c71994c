// The acceptor on a real listening socket and a real event loop; out of descriptors for real
// (RLIMIT_NOFILE lowered for the test, restored after it).
#include "dogfish/base/acceptor.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/event_loop.hpp"
#include "dogfish/base/fd.hpp"

namespace dogfish {
namespace {

using namespace std::chrono_literals;

// A listening socket in the abstract namespace (nothing on disk to clean), and clients of it.
struct Listener {
  UniqueFd fd;
  sockaddr_un address{.sun_family = AF_UNIX};
  socklen_t length;
  Listener() {
    fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    std::string name = "dogfish-acceptor-test-" + std::to_string(getpid());
    std::memcpy(address.sun_path + 1, name.data(), name.size());
    length = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(fd.get(), 16) != 0)
      throw OsError(errno, "listen");
  }
  UniqueFd connect() const {
    UniqueFd c(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(c.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0)
      throw OsError(errno, "connect");
    return c;
  }
};

// Every descriptor of the process taken, until destroyed: RLIMIT_NOFILE lowered to 64 and
// the rest filled with /dev/null.
class NoDescriptors {
 public:
  NoDescriptors() {
    if (getrlimit(RLIMIT_NOFILE, &before_) != 0) throw OsError(errno, "getrlimit");
    rlimit low = before_;
    low.rlim_cur = 64;
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) throw OsError(errno, "setrlimit");
    while (UniqueFd f{open("/dev/null", O_RDONLY | O_CLOEXEC)}) filler_.push_back(std::move(f));
  }
  ~NoDescriptors() {
    filler_.clear();
    setrlimit(RLIMIT_NOFILE, &before_);
  }

 private:
  rlimit before_{};
  std::vector<UniqueFd> filler_;
};

template <typename F>
void run_until(EventLoop& loop, F done) {
  auto end = EventLoop::Clock::now() + 5s;  // a bound against a hang, not a timing check
  while (!done() && EventLoop::Clock::now() < end) loop.run_once(50ms);
  ASSERT_TRUE(done());
}

TEST(Acceptor, HandsOnEachConnection) {
  EventLoop loop;
  Listener l;
  std::vector<UniqueFd> accepted;
  Acceptor acceptor(loop, l.fd.get(), "the test socket",
                    [&](UniqueFd c) { accepted.push_back(std::move(c)); });
  UniqueFd a = l.connect(), b = l.connect();
  run_until(loop, [&] { return accepted.size() == 2; });
  EXPECT_FALSE(acceptor.paused());
  EXPECT_EQ(loop.watched(), 1u);
}

// Out of descriptors, the loop used to wake for the same pending connection over and over
// (level-triggered) until one was freed: a spinning daemon.
TEST(Acceptor, OutOfDescriptorsPausesInsteadOfSpinningAndTakesUpAgain) {
  EventLoop loop;
  Listener l;
  std::vector<UniqueFd> accepted;
  Acceptor acceptor(
      loop, l.fd.get(), "the test socket", [&](UniqueFd c) { accepted.push_back(std::move(c)); },
      20ms);
  UniqueFd client = l.connect();

  {
    NoDescriptors none;
    loop.run_once(0ms);
    EXPECT_TRUE(acceptor.paused());
    EXPECT_EQ(loop.watched(), 0u);  // nothing left to wake the loop but the pause's end
    EXPECT_TRUE(accepted.empty());
    loop.run_once(50ms);  // the pause ends: watched again
    EXPECT_EQ(loop.watched(), 1u);
    loop.run_once(0ms);  // still no descriptor: paused again
    EXPECT_TRUE(acceptor.paused());
  }
  run_until(loop, [&] { return accepted.size() == 1; });
  EXPECT_FALSE(acceptor.paused());
  EXPECT_EQ(loop.watched(), 1u);
}

TEST(Acceptor, DestroyedWhilePausedLeavesNothingOnTheLoop) {
  EventLoop loop;
  Listener l;
  UniqueFd client = l.connect();
  {
    Acceptor acceptor(loop, l.fd.get(), "the test socket", [](UniqueFd) {});
    NoDescriptors none;
    loop.run_once(0ms);
    ASSERT_TRUE(acceptor.paused());
  }
  EXPECT_EQ(loop.watched(), 0u);
  EXPECT_EQ(loop.timers(), 0u);
}

}  // namespace
}  // namespace dogfish
