// validate_config on Configs built in code, as the controller hands it a runtime change. The
// same rules reached through a YAML file, with file and line, are config_test's table.
#include "dogfish/config_validation.hpp"

#include <gtest/gtest.h>

#include <string>

#include "param_name.hpp"

namespace dogfish {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

VipConfig vip(const char* address, std::uint16_t port, std::vector<RealConfig> reals = {}) {
  return {.address = ip(address), .port = port, .reals = std::move(reals)};
}

RealConfig real(const char* address, std::uint32_t weight = 1) {
  return {.address = ip(address), .weight = weight};
}

Config config(std::vector<VipConfig> vips) {
  return {
      .interface = "eth0", .ring_size = 13, .max_vips = 2, .max_reals = 4, .vips = std::move(vips)};
}

// The error validate_config throws for `c`, or "" when it throws none.
InvalidConfig error_of(const Config& c) {
  try {
    validate_config(c);
  } catch (const InvalidConfig& e) {
    return e;
  }
  return InvalidConfig("", "");
}

TEST(ConfigValidation, AGoodConfigPasses) {
  EXPECT_NO_THROW(validate_config(config({vip("10.0.0.1", 80, {real("10.1.0.1", 65535)}),
                                          vip("fd00::1", 80, {real("fd00:1::1", 0)})})));
  EXPECT_NO_THROW(validate_config(Config{.interface = "eth0"}));  // every default is valid
}

struct Bad {
  const char* description;
  Config config;
  const char* path;
  const char* in_words;  // what a control request is answered
};

const Bad kBad[] = {
    {"IPv4 real behind IPv6 VIP", config({vip("fd00::1", 443, {real("10.0.1.1")})}),
     "vips[0].reals[0].address",
     "IPv4 real 10.0.1.1 behind IPv6 VIP fd00::1 (the data plane cannot send IPv6 in IPv4)"},
    {"weight over the limit", config({vip("10.0.0.1", 80, {real("10.1.0.1", 65536)})}),
     "vips[0].reals[0].weight",
     "weight of real 10.1.0.1 in VIP 10.0.0.1:80/tcp: 65536 is out of range (0-65535)"},
    {"real twice in a VIP", config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.1", 2)})}),
     "vips[0].reals[1].address", "VIP 10.0.0.1:80/tcp: 10.1.0.1 is already reals[0] of this VIP"},
    {"VIP twice", config({vip("10.0.0.1", 80), vip("10.0.0.1", 80)}), "vips[1]",
     "10.0.0.1:80/tcp is already vips[0]"},
    {"unknown flags", config({VipConfig{.address = ip("10.0.0.1"), .port = 80, .flags = 0x80}}),
     "vips[0].flags",
     "VIP 10.0.0.1:80/tcp: 0x80 has bits that are not VIP flags (no_conn_table, src_hash_only, "
     "no_src_port_hash, dport_hash_only)"},
    {"more VIPs than max_vips",
     config({vip("10.0.0.1", 80), vip("10.0.0.2", 80), vip("10.0.0.3", 80)}), "vips",
     "3 VIPs, more than max_vips (2)"},
    {"more reals than ids",
     config({vip("10.0.0.1", 80, {real("10.1.0.1"), real("10.1.0.2")}),
             vip("10.0.0.2", 80, {real("10.1.0.3"), real("10.1.0.4")})}),
     "vips", "4 distinct reals, more than max_reals - 1 (3; id 0 is never a real)"},
    {"interface name", Config{.interface = "a/b"}, "interface",
     "'a/b' is not an interface name (1-15 printable characters, no space, '/' or ':')"},
    {"interface name with a newline", Config{.interface = "eth0\nx"}, "interface",
     "'eth0\\x0ax' is not an interface name (1-15 printable characters, no space, '/' or ':')"},
    {"interface name with a terminal escape", Config{.interface = "e\x1b[2J"}, "interface",
     "'e\\x1b[2J' is not an interface name (1-15 printable characters, no space, '/' or ':')"},
    {"interface name dot dot", Config{.interface = ".."}, "interface",
     "'..' is not an interface name (1-15 printable characters, no space, '/' or ':')"},
    {"interface name too long", Config{.interface = "abcdefghijklmnop"}, "interface",
     "'abcdefghijklmnop' is not an interface name (1-15 printable characters, no space, '/' or "
     "':')"},
    {"ring size not prime", Config{.interface = "eth0", .ring_size = 15}, "ring_size",
     "15 is not a prime"},
    {"IPv6 prefix in the IPv4 slot",
     Config{.interface = "eth0", .src4_prefix = *IpPrefix::parse("fd00::/96")},
     "source_prefixes.ipv4", "'fd00::/96' is not an IPv4 prefix (address/length)"},
    {"too many ring entries", Config{.interface = "eth0", .ring_size = 16777213, .max_vips = 65},
     "max_vips", "65 VIPs x 2 rings x 16777213 slots is over 2^31 ring entries"},
};

class ConfigValidationErrors : public testing::TestWithParam<Bad> {};

TEST_P(ConfigValidationErrors, NamePathAndValue) {
  const Bad& bad = GetParam();
  InvalidConfig e = error_of(bad.config);
  EXPECT_EQ(e.path(), bad.path) << bad.description;
  EXPECT_EQ(e.in_words(), bad.in_words) << bad.description;
  EXPECT_EQ(std::string(e.what()), std::string(bad.path) + ": " + e.reason()) << bad.description;
}

INSTANTIATE_TEST_SUITE_P(Table, ConfigValidationErrors, testing::ValuesIn(kBad), DescriptionName());

}  // namespace
}  // namespace dogfish
