#include "dogfish/base/printable.hpp"

#include <gtest/gtest.h>

#include <string>

namespace dogfish {
namespace {

TEST(Printable, KeepsPlainTextAndEscapesTheRest) {
  EXPECT_EQ(printable("{\"cmd\": \"stats\"}"), "{\"cmd\": \"stats\"}");
  EXPECT_EQ(printable("\x1b[2J\n\xff\\"), "\\x1b[2J\\x0a\\xff\\x5c");
}

TEST(Printable, CutsLongTextAndSaysHowLongItWas) {
  std::string text(100000, 'y');
  std::string out = printable(text, 10);
  EXPECT_EQ(out, "yyyyyyyyyy... (100000 bytes)");
}

}  // namespace
}  // namespace dogfish
