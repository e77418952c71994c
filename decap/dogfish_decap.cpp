// dogfish-decap: attach the decap program to a real's interface, detach it,
// show its counters. See decap/README.md.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "dogfish/base/abi_names.hpp"
#include "dogfish/base/log.hpp"
#include "dogfish/base/version.hpp"
#include "loader.hpp"

namespace {

using namespace dogfish::decap;
using dogfish::decap_reasons;
using dogfish::Error;

std::string joined(const std::vector<std::string>& items, const char* none) {
  std::string out;
  for (const auto& a : items) out += (out.empty() ? "" : ", ") + a;
  return out.empty() ? none : out;
}

// "from 172.16.0.0/12, fd00:df::/96", "from any source"; then the inner destinations' rule,
// then where GUE is taken.
std::string peers(const std::vector<std::string>& sources, bool any_source,
                  const std::vector<std::string>& inner_dsts, std::uint16_t gue_port) {
  std::string out = any_source ? "from any source" : "from " + joined(sources, "no source");
  if (!inner_dsts.empty()) out += ", inner destination " + joined(inner_dsts, "");
  out += gue_port ? fmt::format(", GUE on UDP port {}", gue_port) : ", no GUE";
  return out;
}

int print_stats(const std::string& iface, bool json) {
  auto all = stats(iface);
  if (json) {
    nlohmann::json j = {{"interfaces", nlohmann::json::array()}};
    for (const auto& s : all) {
      nlohmann::json reasons, bytes;
      for (int r = 0; r < DF_DECAP_REASON_MAX; r++)
        reasons[std::string(decap_reasons()[r].name)] = s.stats.reason[r];
      for (int t = 0; t < DF_DECAP_TYPES; t++)
        bytes[std::string(decap_reasons()[t].name)] = s.stats.decap_bytes[t];
      j["interfaces"].push_back({{"iface", s.iface},
                                 {"mode", s.mode},
                                 {"addrs", s.addrs},
                                 {"any", s.accept_any},
                                 {"sources", s.sources},
                                 {"any_source", s.any_source},
                                 {"inner_dsts", s.inner_dsts},
                                 {"gue_port", s.gue_port},
                                 {"reasons", reasons},
                                 {"decap_bytes", bytes}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (all.empty()) std::printf("dogfish-decap: not attached to any interface of this namespace\n");
  for (const auto& s : all) {
    std::string addrs = s.accept_any ? "any" : "";
    for (const auto& a : s.addrs) addrs += (addrs.empty() ? "" : ", ") + a;
    std::printf("%s (%s), for %s, %s\n", s.iface.c_str(), s.mode.c_str(),
                addrs.empty() ? "no address" : addrs.c_str(),
                peers(s.sources, s.any_source, s.inner_dsts, s.gue_port).c_str());
    for (int r = 0; r < DF_DECAP_REASON_MAX; r++) {
      std::printf("  %-22s %12llu", std::string(decap_reasons()[r].name).c_str(),
                  static_cast<unsigned long long>(s.stats.reason[r]));
      if (r < DF_DECAP_TYPES)
        std::printf(" packets %14llu bytes",
                    static_cast<unsigned long long>(s.stats.decap_bytes[r]));
      std::printf("\n");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dogfish-decap: strip dogfish's encapsulation (IPIP / IPv6, and GUE) on a real (XDP or tc)"};
  app.set_version_flag("--version", dogfish::version_text("dogfish-decap"));
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "libbpf's debug messages too");

  AttachConfig cfg;
  std::string mode = "xdp";
  auto* att = app.add_subcommand("attach", "attach (or update) decap on an interface");
  att->add_option("--iface", cfg.iface, "interface")->required();
  att->add_option("--mode", mode, "xdp or tc (clsact ingress)")
      ->check(CLI::IsMember(dogfish::names(modes())));
  std::string xdp_mode = "auto";
  att->add_option("--xdp-mode", xdp_mode, "native, generic (skb) or auto (native, else generic)")
      ->check(CLI::IsMember(dogfish::names(dogfish::xdp_modes())));
  att->add_option("--addr", cfg.addrs, "outer destination to strip for (repeatable)");
  att->add_flag("--any", cfg.accept_any, "strip for every outer destination");
  att->add_option("--from", cfg.sources,
                  "outer source prefix to strip from: the balancers' source_prefixes (repeatable)");
  att->add_flag("--any-source", cfg.any_source, "strip whatever the outer source (trusts anyone)");
  att->add_option("--inner-dst", cfg.inner_dsts,
                  "strip only packets whose inner destination is this address, e.g. a VIP on lo "
                  "(repeatable; default: any)");
  att->add_option("--gue-port", cfg.gue_port,
                  "UDP port of GUE packets to strip: the balancers' gue_port; 0: no GUE")
      ->capture_default_str();

  std::string detach_iface;
  auto* det = app.add_subcommand("detach", "detach decap from an interface");
  det->add_option("--iface", detach_iface, "interface")->required();

  std::string stats_iface;
  bool json = false;
  auto* st = app.add_subcommand("stats", "counters per reason and encapsulation type");
  st->add_option("--iface", stats_iface, "one interface (default: all attached here)");
  st->add_flag("--json", json, "print JSON");

  CLI11_PARSE(app, argc, argv);
  dogfish::set_log_program("dogfish-decap");
  dogfish::set_log_verbose(verbose);
  dogfish::route_libbpf_log();
  try {
    if (*att) {
      cfg.mode = *parse_mode(mode);
      cfg.xdp_mode = *dogfish::parse_xdp_mode(xdp_mode);
      if (cfg.addrs.empty() && !cfg.accept_any)
        throw Error("attach: give --addr ADDR (one or more) or --any");
      if (cfg.sources.empty() && !cfg.any_source)
        throw Error(
            "attach: give --from PREFIX (the balancers' source prefixes, one or more) or "
            "--any-source");
      AttachResult r = attach(cfg);
      std::string addrs = cfg.accept_any ? "any address" : "";
      for (const auto& a : cfg.addrs) addrs += (addrs.empty() ? "" : ", ") + a;
      std::printf("dogfish-decap: %s %s on %s, decapsulating for %s, %s\n",
                  r.replaced ? "replaced," : "attached", r.how.c_str(), cfg.iface.c_str(),
                  addrs.c_str(),
                  peers(cfg.sources, cfg.any_source, cfg.inner_dsts, cfg.gue_port).c_str());
      if (std::string old = kernel_without_tc_4in6(); cfg.mode == Mode::kTc && !old.empty())
        std::fprintf(stderr,
                     "dogfish-decap: note: kernel %s is older than 6.3: in tc mode IPv4-in-IPv6 "
                     "is dropped (drop_adjust); 4in4 and 6in6 work, and XDP mode does all three\n",
                     old.c_str());
    } else if (*det) {
      if (!detach(detach_iface)) {
        std::fprintf(stderr, "dogfish-decap: nothing to detach: not attached to %s\n",
                     detach_iface.c_str());
        return 1;
      }
      std::printf("dogfish-decap: detached from %s\n", detach_iface.c_str());
    } else if (*st) {
      return print_stats(stats_iface, json);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "dogfish-decap: %s\n", e.what());
    return 1;
  }
  return 0;
}
