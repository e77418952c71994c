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

TEST_F(StateTest, AnOldRecordHasItsOneBalancer) {
  write_record(kOldRecord);
  const auto st = load_state();
  ASSERT_EQ(st->balancers.size(), 1u);
  EXPECT_EQ(st->balancers[0].node, "lb");
  EXPECT_EQ(st->balancers[0].interface, "gw");
  EXPECT_EQ(st->balancers[0].socket, "/run/dogfish-lab/dogfish.sock");
  EXPECT_TRUE(st->bird_sockets.empty());
}

// As `dogfish-lab up` writes it now: balancers and BIRD sockets.
const std::string kRecord = R"({
  "balancers": [
    {"config": "/run/l/balancer-lb1.yaml", "gateway_interface": "lb1", "interface": "gw", "log": "/run/l/balancer-lb1.log",
     "node": "lb1", "pin_dir": "/sys/fs/bpf/df-lab/balancer-lb1",
     "socket": "/run/l/dogfish-lb1.sock", "standby": false},
    {"config": "/run/l/balancer-lb2.yaml", "gateway_interface": "lb2", "interface": "gw", "log": "/run/l/balancer-lb2.log",
     "node": "lb2", "pin_dir": "/sys/fs/bpf/df-lab/balancer-lb2",
     "socket": "/run/l/dogfish-lb2.sock", "standby": true}
  ],
  "bird_sockets": {"gw": "/run/l/bird-gw/bird.ctl", "lb1": "/run/l/bird-lb1/bird.ctl"},
  "decap": {"real1": "bpf"},
  "files": ["/run/l/topology.yaml", "/run/l/bird-gw", "/run/l/bird-gw/bird.conf",
            "/run/l/balancer-lb1.yaml", "/run/l/dogfish-lb1.sock", "/run/l/balancer-lb1.log"],
  "made_record_dir": true,
  "name": "ecmp",
  "netns": ["df-client", "df-gw", "df-lb1", "df-lb2", "df-real1"],
  "node_netns": {"client": "df-client", "gw": "df-gw", "lb1": "df-lb1", "lb2": "df-lb2",
                 "real1": "df-real1"},
  "phase": "up",
  "pin_dirs": ["/sys/fs/bpf/df-lab"],
  "processes": [
    {"log": "/run/l/bird-gw/bird.log", "node": "gw", "pid": 31740, "role": "bird",
     "start_time": 470210},
    {"log": "/run/l/balancer-lb1.log", "node": "lb1", "pid": 31753, "role": "balancer",
     "start_time": 470223}
  ],
  "started": 1796623721.5,
  "topology": "/run/l/topology.yaml"
})";

TEST_F(StateTest, SavingWritesTheSameRecordBack) {
  write_record(kRecord);
  const auto st = load_state();
  EXPECT_EQ(st->balancer("lb2").standby, true);
  EXPECT_EQ(st->balancer("lb2").gateway_interface, "lb2");
  EXPECT_EQ(st->processes[0].role, ProcessRole::bird);
  EXPECT_THROW(st->balancer("lb3"), Error);
  EXPECT_EQ(st->files.at(1), "/run/l/bird-gw");
  EXPECT_TRUE(st->made_record_dir);
  save_state(*st);
  EXPECT_EQ(read_record(), json::parse(kRecord));
}

// Written before the record kept the gateway's end of each balancer's link.
TEST_F(StateTest, ARecordWithoutGatewayInterfacesLoadsWithThemEmpty) {
  json j = json::parse(kRecord);
  for (auto& b : j["balancers"]) b.erase("gateway_interface");
  write_record(j.dump());
  const auto st = load_state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->balancer("lb1").gateway_interface, "");
  EXPECT_EQ(st->balancer("lb1").socket, "/run/l/dogfish-lb1.sock");
  EXPECT_EQ(st->balancer("lb2").log, "/run/l/balancer-lb2.log");
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
  for (ProcessRole r : {ProcessRole::responder, ProcessRole::balancer, ProcessRole::bird})
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
