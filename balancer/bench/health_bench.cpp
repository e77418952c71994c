// The prober at scale: REALS reals (127.0.x.y on the loopback of a network namespace
// of its own) probed by TCP connect every INTERVAL for SECONDS, in the daemon's loop
// (HealthMonitor + SocketProber under poll). Prints the loop thread's CPU share and
// how far each real's probe-to-probe gap strays from the interval. A benchmark, not
// a test: it asserts nothing about time. Needs root (unshare(CLONE_NEWNET)).
#include <fmt/format.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <thread>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/base/fd.hpp"
#include "dogfish/health_monitor.hpp"
#include "dogfish/health_prober.hpp"

namespace {

using namespace dogfish;
using Ms = std::chrono::duration<double, std::milli>;

// A namespace of our own with its loopback up: 127/8 is all ours, nothing is left behind.
void private_loopback() {
  if (unshare(CLONE_NEWNET) != 0) throw OsError(errno, "unshare(CLONE_NEWNET)");
  UniqueFd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) throw OsError(errno, "SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) throw OsError(errno, "SIOCSIFFLAGS lo");
}

// Accepts and closes every connection, on its own thread (not the measured one).
class Listener {
 public:
  Listener() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{.sin_family = AF_INET, .sin_port = htons(80), .sin_addr = {htonl(INADDR_ANY)}};
    if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        listen(fd_.get(), 4096) != 0)
      throw OsError(errno, "listening on port 80");
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_.get(), POLLIN, 0};
        if (poll(&p, 1, 50) > 0) UniqueFd(accept(fd_.get(), nullptr, nullptr));
      }
    });
  }
  ~Listener() {
    stop_ = true;
    thread_.join();
  }

 private:
  UniqueFd fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The real prober, noting when each probe really started.
class TimedProber : public SocketProber {
 public:
  void start(std::uint64_t id, const ProbeSpec& spec, HealthClock::time_point now) override {
    starts[id].push_back(HealthClock::now());
    SocketProber::start(id, spec, now);
  }
  std::map<std::uint64_t, std::vector<HealthClock::time_point>> starts;
};

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  int reals = 1000, seconds = 10;
  std::uint32_t interval_ms = 1000;
  CLI::App app("the health prober at scale: CPU share and probe timing");
  app.add_option("--reals", reals, "reals to probe")->check(CLI::Range(1, 60000));
  app.add_option("--interval-ms", interval_ms, "probe interval")->check(CLI::Range(100, 60000));
  app.add_option("--seconds", seconds, "how long to run")->check(CLI::Range(2, 600));
  CLI11_PARSE(app, argc, argv);
  try {
    private_loopback();
    Listener listener;
    Config config;
    VipConfig vip{
        .address = *IpAddress::parse("10.0.0.1"),
        .port = 80,
        // Each real's own address: no balancer here to carry probes to the VIP through them.
        .health = {.type = HealthType::tcp,
                   .via = HealthVia::real,
                   .interval_ms = interval_ms,
                   .timeout_ms = interval_ms / 2}};
    for (int i = 0; i < reals; ++i)
      vip.reals.push_back(
          {.address = *IpAddress::parse(fmt::format("127.{}.{}.1", 1 + i / 250, i % 250))});
    config.vips.push_back(vip);

    HealthMonitor monitor;
    TimedProber prober;
    const auto t0 = HealthClock::now();
    monitor.sync(config, t0);
    const double cpu0 = thread_cpu_ms();
    while (HealthClock::now() < t0 + std::chrono::seconds(seconds)) {
      pollfd p{prober.fd(), POLLIN, 0};
      poll(&p, 1, monitor.wait_ms(prober, HealthClock::now()));
      monitor.run(prober, HealthClock::now());
    }
    const double cpu = thread_cpu_ms() - cpu0;
    const double wall = Ms(HealthClock::now() - t0).count();

    std::vector<double> stray;  // |gap - interval| per consecutive probe pair, ms
    for (const auto& [id, times] : prober.starts)
      for (std::size_t k = 1; k < times.size(); ++k)
        stray.push_back(std::abs(Ms(times[k] - times[k - 1]).count() - interval_ms));
    const HealthCounters& c = monitor.counters();
    fmt::print("{} reals, interval {} ms, {:.1f} s: {} probes, {} passed, {} failed\n", reals,
               interval_ms, wall / 1e3, c.probes, c.passed, c.failed);
    fmt::print("loop thread CPU: {:.0f} ms = {:.2f}% of one core\n", cpu, 100 * cpu / wall);
    fmt::print("|gap - interval| over {} gaps: median {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms\n",
               stray.size(), percentile(stray, 0.5), percentile(stray, 0.99),
               percentile(stray, 1.0));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "dogfish-health-bench: {}\n", e.what());
    return 1;
  }
}
