# DOGFISH_SANITIZE: every C and C++ object built with AddressSanitizer and UBSan,
# any UB report fatal (scripts/sanitize runs the unit tests so).
# DOGFISH_FUZZ: that, plus coverage for libFuzzer and the parser fuzzers in fuzz/;
# clang only (Debian's clang 14 with libclang-rt-14-dev). BPF objects are not touched.
option(DOGFISH_SANITIZE "build with AddressSanitizer and UBSan" OFF)
option(DOGFISH_FUZZ "build the libFuzzer parser fuzzers (clang; implies DOGFISH_SANITIZE)" OFF)

if(DOGFISH_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "DOGFISH_FUZZ needs clang (libFuzzer): configure a build tree of its own "
                        "with CC=clang CXX=clang++, as scripts/sanitize does")
  endif()
  set(DOGFISH_SANITIZE ON)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(DOGFISH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
