// The lab's record: one written before the record held enums still loads, and a
// record written now spells every name as it did.
#include "dogfish/lab/state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "dogfish/base/errors.hpp"
#include "scoped_env.hpp"

namespace dogfish::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// As `dogfish-lab up` wrote it when roles, phases and decaps were strings.
const std::string kOldRecord = R"({
  "balancer_interface": "gw",
  "decap": {"real1": "bpf", "real2": "kernel"},
  "name": "basic",
  "netns": ["df-client", "df-gw", "df-lb", "df-real1", "df-real2"],
  "node_netns": {"client": "df-client", "gw": "df-gw", "lb": "df-lb",
                 "real1": "df-real1", "real2": "df-real2"},
  "phase": "up",
  "pin_dirs": ["/sys/fs/bpf/dogfish-decap/4026532369", "/sys/fs/bpf/df-lab"],
  "processes": [
    {"log": "/run/dogfish-lab/responder-real1.log", "node": "real1", "pid": 31742,
     "role": "responder", "start_time": 470215},
    {"log": "/run/dogfish-lab/balancer.log", "node": "lb", "pid": 31753,
     "role": "balancer", "start_time": 470223}
  ],
  "socket": "/run/dogfish-lab/dogfish.sock",
  "started": 1796623721.5,
  "topology": "/run/dogfish-lab/topology.yaml"
})";

// A record directory of this test's own, removed afterwards.
class StateTest : public ::testing::Test {
 protected:
  StateTest()
      : dir_(fs::temp_directory_path() / ("dogfish-state-test-" + std::to_string(getpid()))),
        env_("DOGFISH_LAB_DIR", dir_.c_str()) {
    fs::create_directories(dir_);
  }
  ~StateTest() override { fs::remove_all(dir_); }

  void write_record(const std::string& text) { std::ofstream(state_file()) << text; }
  json read_record() { return json::parse(std::ifstream(state_file())); }

  fs::path dir_;
  ScopedEnv env_;
};

TEST_F(StateTest, AnOldRecordLoadsWithItsNamesAsEnums) {
  write_record(kOldRecord);
  const auto st = load_state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->phase, Phase::up);
  EXPECT_EQ(st->decap.at("real1"), Decap::bpf);
  EXPECT_EQ(st->decap.at("real2"), Decap::kernel);
  ASSERT_EQ(st->processes.size(), 2u);
  EXPECT_EQ(st->processes[0].role, ProcessRole::responder);
  EXPECT_EQ(st->processes[1].role, ProcessRole::balancer);
  EXPECT_EQ(st->processes[1].id.pid, 31753);
  EXPECT_EQ(st->pin_dirs.back(), "/sys/fs/bpf/df-lab");
}

TEST_F(StateTest, SavingWritesTheSameRecordBack) {
  write_record(kOldRecord);
  save_state(*load_state());
  // Plus what an old record did not have, at its defaults: no files noted, a directory not made.
  json expected = json::parse(kOldRecord);
  expected["files"] = json::array();
  expected["made_record_dir"] = false;
  EXPECT_EQ(read_record(), expected);
}

TEST_F(StateTest, AnUnknownNameMakesTheRecordUnreadableAndIsNamed) {
  json j = json::parse(kOldRecord);
  j["decap"]["real1"] = "ebpf";
  write_record(j.dump());
  try {
    load_state();
    FAIL() << "a record with decap 'ebpf' loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unreadable lab record ('ebpf' is not a decap)"),
              std::string::npos)
        << e.what();
  }
}

TEST(StateNames, EveryEnumValueHasOneNameThatParsesBack) {
  for (Phase p : {Phase::building, Phase::up}) EXPECT_EQ(parse_phase(to_string(p)), p);
  for (ProcessRole r : {ProcessRole::responder, ProcessRole::balancer})
    EXPECT_EQ(parse_process_role(to_string(r)), r);
  for (Role r : {Role::client, Role::gateway, Role::balancer, Role::real})
    EXPECT_EQ(parse_role(to_string(r)), r);
  for (Decap d : {Decap::bpf, Decap::kernel}) EXPECT_EQ(parse_decap(to_string(d)), d);
  EXPECT_FALSE(parse_decap("ebpf"));
  EXPECT_EQ(role_names(), "client, gateway, balancer, real");
  EXPECT_EQ(decap_names(), "bpf or kernel");
}

}  // namespace
}  // namespace dogfish::lab
