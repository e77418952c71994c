# cmake -DSOURCE_DIR=... -DOUT=... -P GitDescribe.cmake
#
# Run at every build: writes OUT, a C++ file defining dogfish::kGitDescribe, with what
# `git describe --always --dirty` says of SOURCE_DIR, or "" when it is no git checkout (a
# tarball) or git is missing. OUT is rewritten only when that changed, so an unchanged tree
# relinks nothing.
execute_process(
  COMMAND git -C "${SOURCE_DIR}" describe --always --dirty --tags
  OUTPUT_VARIABLE describe
  ERROR_QUIET
  OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  set(describe "")
endif()
set(text "// Made by cmake/GitDescribe.cmake at build time; do not edit.\n")
string(APPEND text "namespace dogfish {\nextern const char* const kGitDescribe;\n")
string(APPEND text "const char* const kGitDescribe = \"${describe}\";\n}  // namespace dogfish\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT "${old}" STREQUAL "${text}")
  file(WRITE "${OUT}" "${text}")
endif()
