// A broken promise in a libFuzzer target: print what broke and crash, so the
// fuzzer keeps the input that did it.
#pragma once

#include <cstdio>
#include <cstdlib>

#define DOGFISH_EXPECT(cond, ...)                          \
  do {                                                     \
    if (!(cond)) {                                         \
      std::fprintf(stderr, "broken promise: %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);                   \
      std::fputc('\n', stderr);                            \
      std::abort();                                        \
    }                                                      \
  } while (0)
