// A table-driven gtest case's name from its row's `description`: letters and digits kept, every
// other character '_'.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace dogfish {

struct DescriptionName {
  template <typename Row>
  std::string operator()(const testing::TestParamInfo<Row>& info) const {
    std::string name;
    for (const char* p = info.param.description; *p; ++p)
      name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
    return name;
  }
};

}  // namespace dogfish
