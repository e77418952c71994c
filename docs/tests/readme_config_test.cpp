// The README's configuration reference against the real parser (balancer/src/config.cpp):
// every key the parser takes is in the table and every key in the table is the parser's, at each
// level; a documented default is the parser's default; a key marked required is required; and
// the README's example configuration parses.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dogfish/base/errors.hpp"
#include "dogfish/config.hpp"

namespace {

using dogfish::Config;
using dogfish::ConfigError;
using dogfish::parse_config;

std::string readme() {
  std::ifstream in(DOGFISH_README);
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().empty()) throw std::runtime_error("cannot read " DOGFISH_README);
  return text.str();
}

std::string between(const std::string& text, const std::string& begin, const std::string& end) {
  auto b = text.find(begin);
  if (b == std::string::npos) throw std::runtime_error("README.md has no '" + begin + "'");
  auto e = text.find(end, b);
  if (e == std::string::npos)
    throw std::runtime_error("README.md has no '" + end + "' after '" + begin + "'");
  return text.substr(b + begin.size(), e - b - begin.size());
}

// One row of the table: `vips[].reals[].weight` splits into level "vips[].reals[]" and key
// "weight"; default is "required", the YAML value between backticks, or words (a key whose
// default is another key's, "the balancer's": documented, with no value of its own to test).
struct Row {
  std::string level, key, value;
  bool required = false;
  bool in_words = false;
};

std::vector<Row> rows() {
  const std::string table =
      between(readme(), "<!-- BEGIN config-reference", "<!-- END config-reference -->");
  static const std::regex row(R"(^\| `([a-z0-9_.\[\]]+)` \| (required|`([^`]*)`|[a-z][^|`]*) \|)");
  std::vector<Row> out;
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (!std::regex_search(line, m, row)) continue;
    const std::string path = m[1];
    const auto dot = path.rfind('.');
    out.push_back(Row{.level = dot == std::string::npos ? "" : path.substr(0, dot),
                      .key = dot == std::string::npos ? path : path.substr(dot + 1),
                      .value = m[3],
                      .required = m[2] == "required",
                      .in_words = !m[3].matched && m[2] != "required"});
  }
  return out;
}

// The smallest configuration that reaches a level, with `extra` ("key: value" lines, or "")
// added at that level and `drop` (a required key) left out of it.
std::string minimal(const std::string& level, const std::string& extra,
                    const std::string& drop = "") {
  auto keep = [&](const std::string& key, const std::string& line) {
    return key == drop ? "" : line;
  };
  std::string top = keep("interface", "interface: eth0\n") + keep("gateway", "gateway: 10.0.0.1\n");
  if (level.empty()) return top + extra;
  // An empty mapping is no mapping: without an extra key, the level is left out.
  if (level == "source_prefixes") return extra.empty() ? top : top + "source_prefixes:\n  " + extra;
  std::string vip = "vips:\n  - " + keep("address", "address: 10.100.0.1\n    ") +
                    keep("port", "port: 80\n    ") + keep("proto", "proto: tcp\n    ");
  if (level == "announce")
    return top + "announce:\n  " + keep("bird_socket", "bird_socket: /run/bird/bird.ctl\n  ") +
           keep("include", "include: /etc/bird/dogfish.conf\n  ") + extra;
  if (level == "vips[]") return top + vip + extra;
  // Without its address a real still needs some key, or it is not a mapping at all.
  if (level == "vips[].reals[]")
    return top +
           "vips:\n  - address: 10.100.0.1\n    port: 80\n    proto: tcp\n    reals:\n      - " +
           keep("address", "address: 10.0.1.1\n        ") +
           (drop == "address" ? "weight: 1\n" : "") + extra;
  throw std::runtime_error("no minimal configuration for level '" + level + "'");
}

// The keys the parser takes at a level, from its own error for a key it does not know.
std::set<std::string> parser_keys(const std::string& level) {
  try {
    parse_config(minimal(level, "zz_not_a_key: 1\n"), "probe.yaml");
  } catch (const ConfigError& e) {
    static const std::regex known(R"(unknown key \(expected one of: ([^)]*)\))");
    std::smatch m;
    const std::string what = e.what();
    if (!std::regex_search(what, m, known)) throw std::runtime_error("unexpected error: " + what);
    std::set<std::string> keys;
    std::istringstream list(m[1].str());
    for (std::string k; std::getline(list, k, ',');)
      keys.insert(k.substr(k.find_first_not_of(' ')));
    return keys;
  }
  throw std::runtime_error("the parser took an unknown key at level '" + level + "'");
}

TEST(ReadmeConfig, KeysAreTheParsersAtEveryLevel) {
  std::map<std::string, std::set<std::string>> documented;
  for (const Row& r : rows()) {
    documented[r.level].insert(r.key);
    // A nested row names its parents too: `vips[].address` documents `vips` at the top.
    for (std::string level = r.level; !level.empty();) {
      const auto dot = level.rfind('.');
      std::string key = dot == std::string::npos ? level : level.substr(dot + 1);
      if (key.ends_with("[]")) key.resize(key.size() - 2);
      level = dot == std::string::npos ? "" : level.substr(0, dot);
      documented[level].insert(key);
    }
  }
  ASSERT_EQ(documented.size(), 5U)
      << "levels: top, source_prefixes, vips[], vips[].reals[], announce";
  for (const auto& [level, keys] : documented)
    EXPECT_EQ(keys, parser_keys(level)) << "level '" << level << "'";
}

// What a default can change, readable in a failure (Config itself prints as bytes).
std::string describe(const Config& c) {
  std::ostringstream o;
  o << "xdp_mode " << static_cast<int>(c.xdp_mode) << ", source_prefixes "
    << c.src4_prefix.to_string() << " " << c.src6_prefix.to_string() << ", conn_table_size "
    << c.conn_table_size << ", udp_idle_timeout " << c.udp_idle_timeout_s << ", max_packet_size "
    << (c.max_packet_size ? std::to_string(*c.max_packet_size) : "auto") << ", icmp_echo "
    << c.icmp_echo << ", icmp_errors_to_reals " << c.icmp_errors_to_reals << ", ring_size "
    << c.ring_size << ", max_vips " << c.max_vips << ", max_reals " << c.max_reals << ", encap "
    << to_string(c.encap) << ", gue_port " << c.gue_port << ", vips " << c.vips.size();
  if (c.announce)
    o << ", announce " << c.announce->bird_socket << " " << c.announce->include << " "
      << c.announce->stop_delay_s;
  if (c.metrics_listen) o << ", metrics_listen " << c.metrics_listen->to_string();
  for (const auto& v : c.vips) {
    o << " [" << dogfish::vip_name(v) << " flags " << v.flags << " reals";
    for (const auto& r : v.reals) o << " " << r.address.to_string() << "/" << r.weight;
    o << "]";
  }
  return o.str();
}

TEST(ReadmeConfig, DocumentedDefaultsAreTheParsers) {
  int checked = 0;
  for (const Row& r : rows()) {
    if (r.required || r.in_words) continue;
    SCOPED_TRACE(r.level + "." + r.key + ": " + r.value);
    const Config without = parse_config(minimal(r.level, ""), "without.yaml");
    const Config with = parse_config(minimal(r.level, r.key + ": " + r.value + "\n"), "with.yaml");
    EXPECT_EQ(describe(with), describe(without));
    EXPECT_TRUE(with == without);
    checked++;
  }
  EXPECT_GE(checked, 10);
}

TEST(ReadmeConfig, RequiredKeysAreRequired) {
  int checked = 0;
  for (const Row& r : rows()) {
    if (!r.required) continue;
    SCOPED_TRACE(r.level + "." + r.key);
    try {
      parse_config(minimal(r.level, "", r.key), "missing.yaml");
      ADD_FAILURE() << "parsed without it";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("missing key '" + r.key + "'"), std::string::npos)
          << e.what();
    }
    checked++;
  }
  EXPECT_EQ(checked, 8) << "interface, gateway, a VIP's address, port, proto, a real's address, "
                           "and announce's bird_socket and include";
}

TEST(ReadmeConfig, ExampleParses) {
  const std::string text = readme();
  const auto marker = text.find("<!-- config-example");
  ASSERT_NE(marker, std::string::npos) << "README.md has no '<!-- config-example' marker";
  const auto begin = text.find("```yaml\n", marker) + 8;
  const std::string yaml = text.substr(begin, text.find("\n```", begin) - begin + 1);
  const Config c = parse_config(yaml, "README.md (example)");
  EXPECT_FALSE(c.vips.empty());
  for (const auto& v : c.vips) EXPECT_FALSE(v.reals.empty()) << dogfish::vip_name(v);
}

}  // namespace
