#include "dogfish/link.hpp"

#include <gtest/gtest.h>

#include <string>

#include "dogfish/base/errors.hpp"

namespace dogfish {
namespace {

TEST(InterfaceMtu, ReadsTheLoopbacksMtu) {
  // Every namespace has lo; its MTU is 65536 unless someone changed it, and never below 1280.
  EXPECT_GE(interface_mtu("lo"), 1280u);
}

TEST(InterfaceMtu, NamesAMissingInterface) {
  try {
    interface_mtu("dfnosuch0");
    ADD_FAILURE() << "no error for a missing interface";
  } catch (const OsError& e) {
    EXPECT_NE(std::string(e.what()).find("dfnosuch0"), std::string::npos) << e.what();
  }
  EXPECT_THROW(interface_mtu("a-name-far-too-long-for-linux"), Error);
}

TEST(InterfaceRunning, LoopbackIsUpAndAMissingInterfaceIsNamed) {
  EXPECT_TRUE(interface_running("lo"));
  try {
    interface_running("dfnosuch0");
    ADD_FAILURE() << "no error for a missing interface";
  } catch (const OsError& e) {
    EXPECT_NE(std::string(e.what()).find("dfnosuch0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace dogfish
