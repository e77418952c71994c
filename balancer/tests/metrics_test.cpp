// The Prometheus text the metrics endpoint serves: its format, and what it says of a stats answer.
#include "dogfish/metrics.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "dogfish/exposition.hpp"

namespace dogfish {
namespace {

using nlohmann::json;

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Exposition, WritesHelpAndTypeOncePerFamily) {
  Exposition e;
  e.family("dogfish_vip_packets_total", MetricType::counter, "Packets to a VIP.")
      .add({{"vip", "10.100.0.1:80/tcp"}}, std::uint64_t{42})
      .add({{"vip", "[fd00:100::1]:80/tcp"}}, std::uint64_t{7});
  e.family("dogfish_up", MetricType::gauge, "Up, \"quoted\".").add({}, 1.5);
  EXPECT_EQ(e.text(),
            "# HELP dogfish_vip_packets_total Packets to a VIP.\n"
            "# TYPE dogfish_vip_packets_total counter\n"
            "dogfish_vip_packets_total{vip=\"10.100.0.1:80/tcp\"} 42\n"
            "dogfish_vip_packets_total{vip=\"[fd00:100::1]:80/tcp\"} 7\n"
            "# HELP dogfish_up Up, \"quoted\".\n"
            "# TYPE dogfish_up gauge\n"
            "dogfish_up 1.5\n");
}

TEST(Exposition, EscapesLabelValues) {
  Exposition e;
  e.family("x", MetricType::gauge, "h").add({{"a", "q\"b\\c\nd"}, {"b", "2"}}, std::uint64_t{0});
  EXPECT_EQ(e.text(), "# HELP x h\n# TYPE x gauge\nx{a=\"q\\\"b\\\\c\\nd\",b=\"2\"} 0\n");
}

TEST(Exposition, RefusesBadNamesAndAFamilyTwice) {
  Exposition e;
  e.family("dogfish_a", MetricType::gauge, "h");
  EXPECT_THROW(e.family("dogfish_a", MetricType::counter, "h"), std::logic_error);
  EXPECT_THROW(e.family("1abc", MetricType::gauge, "h"), std::logic_error);
  EXPECT_THROW(e.family("a-b", MetricType::gauge, "h"), std::logic_error);
  EXPECT_THROW(e.family("ok", MetricType::gauge, "h").add({{"le:x", "1"}}, 1.0), std::logic_error);
  EXPECT_THROW(e.family("ok2", MetricType::gauge, "a\nb"), std::logic_error);
  EXPECT_THROW(e.family("ok3", MetricType::gauge, "a\\b"), std::logic_error);
}

const json kStats = json::parse(R"({
  "ok": true,
  "vips": [{"vip": "10.100.0.1:80/tcp", "id": 0, "packets": 10, "bytes": 1000}],
  "reals": [{"real": "10.0.3.2", "id": 1, "packets": 6, "bytes": 600},
            {"real": "fd00:3::2", "id": 2, "packets": 0, "bytes": 0}],
  "vip_reals": [{"vip": "10.100.0.1:80/tcp", "real": "10.0.3.2", "packets": 6, "bytes": 600},
                {"vip": "10.100.0.1:80/tcp", "real": "fd00:3::2", "packets": 0, "bytes": 0}],
  "reasons": {"tx": 10, "drop_no_real": 3},
  "conn_table": {"hit": 4, "miss": 6, "expired": 0, "hash_decisions": 6, "proven": 1,
                 "inserted": 5, "skipped": 0, "replaced": 0, "guard_engaged_s": 0,
                 "capacity": 1000, "capacity_per_cpu": 1000, "insert_rate": 100},
  "control": {"applies": 3, "apply_failures": 1, "reloads": 2, "reload_failures": 1,
              "apply_s": 0.25, "rings_built": 4, "ring_build_s": 0.0125},
  "health": {"probes": 9, "passed": 8, "failed": 1, "went_down": 1, "went_up": 0,
             "reals_checked": 2, "reals_down": 1}
})");

const json kReals = json::parse(R"({"ok": true, "reals": [
  {"vip": "10.100.0.1:80/tcp", "address": "10.0.3.2", "weight": 2, "id": 1,
   "health": {"check": "tcp", "state": "up", "serving": true}},
  {"vip": "10.100.0.1:80/tcp", "address": "10.0.3.3", "weight": 1, "id": 3,
   "health": {"check": "tcp", "state": "down", "serving": false}},
  {"vip": "10.100.0.1:53/udp", "address": "10.0.3.3", "weight": 1, "id": 3,
   "health": {"check": "none", "state": "unchecked", "serving": true}}]})");

TEST(Metrics, SaysWhatStatsSays) {
  const std::string text = metrics_exposition(kStats, kReals).text();
  for (const char* line : {
           "dogfish_vip_packets_total{vip=\"10.100.0.1:80/tcp\"} 10\n",
           "dogfish_vip_bytes_total{vip=\"10.100.0.1:80/tcp\"} 1000\n",
           "dogfish_real_packets_total{real=\"10.0.3.2\"} 6\n",
           "dogfish_real_bytes_total{real=\"fd00:3::2\"} 0\n",
           "dogfish_vip_real_packets_total{vip=\"10.100.0.1:80/tcp\",real=\"10.0.3.2\"} 6\n",
           "dogfish_vip_real_bytes_total{vip=\"10.100.0.1:80/tcp\",real=\"10.0.3.2\"} 600\n",
           "dogfish_vip_real_bytes_total{vip=\"10.100.0.1:80/tcp\",real=\"fd00:3::2\"} 0\n",
           "dogfish_packets_total{reason=\"drop_no_real\"} 3\n",
           "dogfish_packets_total{reason=\"tx\"} 10\n",
           "dogfish_conn_table_hits_total 4\n",
           "dogfish_conn_table_misses_total 6\n",
           "dogfish_conn_table_inserts_total 5\n",
           "dogfish_conn_table_capacity 1000\n",
           "dogfish_config_reloads_total 2\n",
           "dogfish_config_reload_failures_total 1\n",
           "dogfish_config_apply_seconds_total 0.25\n",
           "dogfish_ring_builds_total 4\n",
           "dogfish_ring_build_seconds_total 0.0125\n",
           "dogfish_health_probes_total 9\n",
           "dogfish_real_up{vip=\"10.100.0.1:80/tcp\",real=\"10.0.3.2\"} 1\n",
           "dogfish_real_up{vip=\"10.100.0.1:80/tcp\",real=\"10.0.3.3\"} 0\n",
           "dogfish_real_up{vip=\"10.100.0.1:53/udp\",real=\"10.0.3.3\"} 1\n",
           "dogfish_real_serving{vip=\"10.100.0.1:80/tcp\",real=\"10.0.3.3\"} 0\n",
           "dogfish_real_weight{vip=\"10.100.0.1:80/tcp\",real=\"10.0.3.2\"} 2\n",
       })
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing from\n" << text;
  EXPECT_EQ(occurrences(text, "# TYPE dogfish_packets_total counter\n"), 1U);
  EXPECT_EQ(occurrences(text, "# TYPE dogfish_real_up gauge\n"), 1U);
  EXPECT_EQ(occurrences(text, "capacity_per_cpu"), 0U) << "the same number twice is once";
  // Every sample's family is declared, counters end in _total.
  for (std::size_t at = 0, end; at < text.size(); at = end + 1) {
    end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    if (!line.starts_with("# TYPE ")) continue;
    const std::string name = line.substr(7, line.rfind(' ') - 7);
    if (line.ends_with(" counter")) {
      EXPECT_TRUE(name.ends_with("_total")) << name;
    }
  }
}

TEST(Metrics, LeavesOutWhatTheAnswerLacks) {
  const std::string text = metrics_exposition(json{{"ok", true}}, json{{"ok", true}}).text();
  EXPECT_EQ(text.find("dogfish_health_probes_total"), std::string::npos);
  EXPECT_NE(text.find("# TYPE dogfish_vip_packets_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace dogfish
