#include "dogfish/metrics.hpp"

#include <cstdint>
#include <initializer_list>
#include <string>

namespace dogfish {
namespace {

using nlohmann::json;

std::uint64_t count(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<std::uint64_t>() : 0;
}

// dogfish_<what>_packets_total and dogfish_<what>_bytes_total, one sample per row, labelled
// with the row's fields of the labels' names.
void traffic(Exposition& e, const json& rows, const std::string& what,
             std::initializer_list<const char*> labels, const std::string& help) {
  auto& packets =
      e.family("dogfish_" + what + "_packets_total", MetricType::counter, "Packets " + help + ".");
  auto& bytes =
      e.family("dogfish_" + what + "_bytes_total", MetricType::counter, "Bytes " + help + ".");
  for (const json& r : rows) {
    Labels values;
    for (const char* label : labels) values.push_back({label, r[label].get<std::string>()});
    packets.add(values, count(r, "packets"));
    bytes.add(values, count(r, "bytes"));
  }
}

// A number of the stats answer that is one sample: stats[section][key] as dogfish_<name>.
struct Scalar {
  const char* section;
  const char* key;
  const char* name;
  MetricType type;
  const char* help;
};

constexpr auto C = MetricType::counter;
constexpr auto G = MetricType::gauge;

const Scalar kScalars[] = {
    {"conn_table", "hit", "conn_table_hits_total", C,
     "Packets whose flow the connection table held."},
    {"conn_table", "miss", "conn_table_misses_total", C,
     "Packets whose flow the connection table lacked."},
    {"conn_table", "expired", "conn_table_expired_total", C,
     "Entries found idle past their timeout."},
    {"conn_table", "hash_decisions", "conn_table_hash_decisions_total", C,
     "Packets sent where the Maglev ring said."},
    {"conn_table", "proven", "conn_table_proven_total", C,
     "Handshakes completed from a recorded SYN."},
    {"conn_table", "inserted", "conn_table_inserts_total", C,
     "Entries written into the connection table."},
    {"conn_table", "skipped", "conn_table_skipped_total", C,
     "Entries the flood guard left unwritten (rate over conn_table_insert_rate)."},
    {"conn_table", "replaced", "conn_table_replaced_total", C,
     "Entries overwritten with another real."},
    {"conn_table", "guard_engaged_s", "conn_table_guard_engaged_seconds_total", C,
     "Seconds during which the flood guard rationed inserts."},
    {"conn_table", "capacity", "conn_table_capacity", G,
     "Entries the connection table holds at most."},
    {"conn_table", "insert_rate", "conn_table_insert_rate", G,
     "Inserts a CPU may make a second (conn_table_insert_rate; 0 no limit)."},
    {"control", "applies", "config_applies_total", C,
     "Configurations applied: the start, every change and every reload."},
    {"control", "apply_failures", "config_apply_failures_total", C,
     "Configurations refused; the running one stayed."},
    {"control", "reloads", "config_reloads_total", C,
     "Reloads asked for (SIGHUP or `dogfish reload`)."},
    {"control", "reload_failures", "config_reload_failures_total", C,
     "Reloads refused; the running configuration stayed."},
    {"control", "apply_s", "config_apply_seconds_total", C,
     "Seconds spent applying configurations, refused ones included."},
    {"control", "rings_built", "ring_builds_total", C, "Maglev rings built."},
    {"control", "ring_build_s", "ring_build_seconds_total", C,
     "Seconds spent building Maglev rings (not writing them)."},
    {"health", "probes", "health_probes_total", C, "Health probes finished."},
    {"health", "passed", "health_probes_passed_total", C, "Health probes that passed."},
    {"health", "failed", "health_probes_failed_total", C, "Health probes that failed."},
    {"health", "went_down", "health_went_down_total", C, "Times a real went down."},
    {"health", "went_up", "health_went_up_total", C, "Times a real came back up."},
    {"health", "reals_checked", "health_reals_checked", G, "(VIP, real) pairs health-checked."},
    {"health", "reals_down", "health_reals_down", G, "(VIP, real) pairs down."},
};

void scalars(Exposition& e, const json& stats) {
  for (const Scalar& s : kScalars) {
    if (!stats.contains(s.section) || !stats[s.section].contains(s.key)) continue;
    auto& family = e.family(std::string("dogfish_") + s.name, s.type, s.help);
    const json& value = stats[s.section][s.key];
    if (value.is_number_float())
      family.add({}, value.get<double>());
    else
      family.add({}, count(stats[s.section], s.key));
  }
}

// Per (VIP, real): weight, health (an unchecked real counts as up) and whether it serves.
void reals(Exposition& e, const json& rows) {
  auto& weight =
      e.family("dogfish_real_weight", MetricType::gauge, "A real's weight in a VIP (0 drains).");
  auto& up = e.family("dogfish_real_up", MetricType::gauge,
                      "1 when a real is up in a VIP (or not checked), 0 when down.");
  auto& serving = e.family("dogfish_real_serving", MetricType::gauge,
                           "1 when a real takes a VIP's new flows: up, or all down (fail open).");
  for (const json& r : rows) {
    Labels labels{{"vip", r["vip"].get<std::string>()}, {"real", r["address"].get<std::string>()}};
    const json& h = r.value("health", json::object());
    weight.add(labels, count(r, "weight"));
    up.add(labels, std::uint64_t(h.value("state", "unchecked") != "down"));
    serving.add(labels, std::uint64_t(h.value("serving", true)));
  }
}

}  // namespace

Exposition metrics_exposition(const json& stats, const json& real_list) {
  Exposition e;
  traffic(e, stats.value("vips", json::array()), "vip", {"vip"}, "sent to a VIP");
  traffic(e, stats.value("reals", json::array()), "real", {"real"},
          "encapsulated to a real, over all its VIPs");
  traffic(e, stats.value("vip_reals", json::array()), "vip_real", {"vip", "real"},
          "of a VIP encapsulated to one of its reals");
  auto& reasons =
      e.family("dogfish_packets_total", MetricType::counter,
               "Packets by what became of them (reason: tx, or why dropped or passed).");
  const json by_reason = stats.value("reasons", json::object());  // items() does not keep it
  for (const auto& [name, value] : by_reason.items())
    reasons.add({{"reason", name}}, value.get<std::uint64_t>());
  scalars(e, stats);
  reals(e, real_list.value("reals", json::array()));
  return e;
}

}  // namespace dogfish
