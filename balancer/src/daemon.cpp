#include "dogfish/daemon.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string_view>

#include "dogfish/announcer.hpp"
#include "dogfish/base/bpffs.hpp"
#include "dogfish/base/errors.hpp"
#include "dogfish/base/event_loop.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/printable.hpp"
#include "dogfish/bpf_data_plane.hpp"
#include "dogfish/control_socket.hpp"
#include "dogfish/controller.hpp"
#include "dogfish/df_structs.hpp"
#include "dogfish/health_driver.hpp"
#include "dogfish/health_monitor.hpp"
#include "dogfish/health_prober.hpp"
#include "dogfish/http_server.hpp"
#include "dogfish/link.hpp"
#include "dogfish/metrics.hpp"
#include "dogfish/neighbors.hpp"
#include "dogfish/reconciler.hpp"
#include "dogfish/service_notify.hpp"
#include "dogfish/serving.hpp"

namespace dogfish {
namespace {

// The data plane configuration with what the system decides: the gateway's MAC when an
// address was given, the interface's MTU when max_packet_size is auto (read again at every
// apply, so a reload follows an MTU changed meanwhile).
df_config df_config_for(const Config& config) {
  df_config df = make_df_config(config);
  if (!config.max_packet_size) {
    df.max_pkt_size = interface_mtu(config.interface);
    log_debug("max_packet_size auto: {} bytes, the MTU of {}", df.max_pkt_size, config.interface);
  }
  if (const auto* ip = std::get_if<IpAddress>(&config.gateway)) {
    MacAddress mac = resolve_neighbor(ip->to_string(), config.interface);
    set_gateway_mac(df, mac);
    log_debug("gateway {} is {}", ip->to_string(), mac.to_string());
  }
  return df;
}

// SIGHUP, SIGTERM and SIGINT, blocked and read from a signalfd in the event loop.
class SignalFd {
 public:
  SignalFd() {
    sigemptyset(&mask_);
    for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask_, s);
    if (sigprocmask(SIG_BLOCK, &mask_, &old_) != 0) throw OsError(errno, "blocking signals");
    fd_ = signalfd(-1, &mask_, SFD_CLOEXEC);
    if (fd_ < 0) throw OsError(errno, "signalfd");
  }
  ~SignalFd() {
    close(fd_);
    sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  int fd() const { return fd_; }
  int read_signal() const {
    signalfd_siginfo info{};
    if (read(fd_, &info, sizeof(info)) != sizeof(info)) return 0;
    return int(info.ssi_signo);
  }

 private:
  sigset_t mask_, old_;
  int fd_ = -1;
};

void log_report(std::string_view what, const ReconcileReport& r) {
  log_info(
      "{}: {} VIPs added, {} removed, {} changed; {} reals added, {} removed, {} re-encapsulated; "
      "{} rings written; {} connections re-hash (their real left the VIP)",
      what, r.vips_added, r.vips_removed, r.vips_changed, r.reals_added, r.reals_removed,
      r.reals_reencapsulated, r.rings_written, r.flows_forgotten);
}

// READY=1 to systemd, with what is served.
void notify_serving(const Controller& controller, const Config& config) {
  notify_ready(
      fmt::format("serving {} VIPs on {}", controller.config().vips.size(), config.interface));
}

// GET /metrics: what `stats` and `real_list` answer, in the Prometheus text format.
HttpResponse metrics_response(Controller& controller, std::string_view path) {
  if (path != "/metrics") return {.status = 404, .body = "not here: GET /metrics\n"};
  const nlohmann::json stats = controller.handle({{"cmd", "stats"}});
  if (stats.contains("error")) throw Error(stats["error"].get<std::string>());
  const nlohmann::json reals = controller.handle({{"cmd", "real_list"}});
  return {.content_type = kExpositionContentType, .body = metrics_exposition(stats, reals).text()};
}

// Reconciles, attaches, runs the event loop (signals, control clients, health probes, the
// metrics endpoint when there is one) until SIGTERM/SIGINT; the data plane outlives it.
void serve(BpfDataPlane& dp, const Config& config, const DaemonOptions& options,
           const SignalFd& signals, EventLoop& loop, ControlServer& server, HttpServer* metrics) {
  Reconciler reconciler(dp);
  if (dp.adopted()) {
    reconciler.adopt();
    log_info("adopted {} VIPs and {} reals from the pinned maps", reconciler.state().vips.size(),
             reconciler.state().real_ids.size());
  }
  HealthMonitor health;
  SocketProber prober(config.interface);  // where probes via a VIP get encapsulated
  Controller controller(
      reconciler, dp, df_config_for, [&] { return load_config(options.config_path); }, &health);
  log_report("configured", controller.apply(config));

  XdpMode used = dp.attach(config.interface, config.xdp_mode, options.replace_foreign);
  // Serving from here on: whatever becomes of this process, the program stays.
  dp.release();
  if (used == XdpMode::generic && config.xdp_mode == XdpMode::automatic)
    log_warn("native XDP refused on {}: attached in generic mode (slower)", config.interface);
  log_info("attached to {} ({} mode; tc egress for probes via a VIP): program {} (tag {})",
           config.interface, to_string(used), dp.prog_id(), dp.prog_tag());
  // Routes to the VIPs (announcer.hpp): after every apply and health change while the program
  // serves, withdrawn at stop (the data plane goes on serving what still comes).
  const std::unique_ptr<VipAnnouncements> announcements =
      make_announcements(config, [&](const VipConfig& vip) { return health.vip_health(vip); });
  const auto announce = [&] {
    if (announcements) announcements->applied(controller.config());
  };
  announce();
  ServingWatch serving(
      [&] {
        return read_serving(config.interface, [&](std::uint32_t id) {
          return id == dp.prog_id() || dp.uses_our_maps(id);
        });
      },
      health,
      [&](const ServingState& now) {
        if (announcements) announcements->set_serving(now.serving(), controller.config());
      });
  const EventLoop::TimerId serving_timer = loop.every(kServingPoll, [&] { serving.poll(); });

  HealthDriver probes(loop, health, prober, controller, announce);
  // A real added, removed or re-checked changes which probes are due and which VIPs are announced.
  const auto after_change = [&] {
    probes.kick();
    announce();
  };
  loop.watch(signals.fd(), EPOLLIN, [&](std::uint32_t) {
    int sig = signals.read_signal();
    if (sig == SIGHUP) {
      notify_reloading();
      try {
        log_report("reloaded " + options.config_path, controller.reload());
      } catch (const std::exception& e) {
        log_error("reload failed, keeping the running state: {}", e.what());
      }
      after_change();
      notify_serving(controller, config);
    } else if (sig == SIGTERM || sig == SIGINT) {
      log_info("stopping on {}; the data plane goes on serving (`dogfish teardown` takes it down)",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
      notify_stopping();
      loop.stop();
    }
  });
  server.start([&](std::string_view line) {
    nlohmann::json answer = controller.handle_line(line);
    if (answer.contains("error"))
      log_info("request {} refused: {}", printable(line),
               printable(answer["error"].get<std::string>()));
    else
      log_debug("request {}", printable(line));
    after_change();
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  });
  log_info("serving {}", server.path());
  if (metrics) {
    metrics->start([&](std::string_view path) { return metrics_response(controller, path); });
    log_info("serving http://{}/metrics", config.metrics_listen->to_string());
  }
  probes.kick();
  notify_serving(controller, config);
  loop.run();
  loop.cancel(serving_timer);
  loop.unwatch(signals.fd());
  if (announcements) announcements->stop();
}

}  // namespace

int run_daemon(const DaemonOptions& options) {
  SignalFd signals;  // first: a signal during start-up waits for the loop
  Config config;
  try {
    config = load_config(options.config_path);
  } catch (const ConfigError& e) {
    log_error("{}", e.what());
    return 2;
  }
  route_libbpf_log();
  try {
    // Before anything is loaded: a second daemon on the same socket stops here,
    // before it could replace (and on its way out detach) the first one's program.
    EventLoop loop;
    ControlServer server(options.socket_path, loop);
    // Bound before anything is loaded too: an address taken stops the start here.
    std::unique_ptr<HttpServer> metrics;
    if (config.metrics_listen) metrics = std::make_unique<HttpServer>(*config.metrics_listen, loop);
    std::string pin_dir =
        options.pin_dir.empty() ? balancer_pin_dir(config.interface).string() : options.pin_dir;
    if (ensure_bpffs()) log_info("mounted bpffs on {}", kBpffs);
    BpfDataPlane dp({.limits = {.ring_size = config.ring_size,
                                .max_vips = config.max_vips,
                                .max_reals = config.max_reals,
                                .conn_entries = config.conn_table_size},
                     .pin_dir = pin_dir,
                     .object_file = options.object_file});
    if (dp.adopted()) log_info("adopted the maps pinned in {}", pin_dir);
    if (!options.object_file.empty()) log_info("loaded the program from {}", options.object_file);
    try {
      serve(dp, config, options, signals, loop, server, metrics.get());
    } catch (...) {
      // Pins this start made, while nothing serves from them; what was serving goes on.
      if (!dp.adopted() && !dp.attached()) dp.unpin();
      throw;
    }
    return 0;
  } catch (const XdpBusy& e) {
    log_error(
        "{}, and it is not dogfish's (it does not use the maps pinned for this interface): "
        "refusing to replace it. Remove it, or run with --replace-foreign to replace it",
        e.what());
    return 3;
  } catch (const AbiMismatch& e) {
    log_error("{}", e.what());
    return 3;
  } catch (const std::exception& e) {
    log_error("{}", e.what());
    return 1;
  }
}

}  // namespace dogfish
