# dogfish_build_info(TARGET): what TARGET was built with, as string macros for it to
# print beside its figures: DF_BUILD_TYPE, DF_BUILD_CXX (compiler and version),
# DF_BUILD_CXX_FLAGS (the flags of the build type included), DF_BUILD_BPF_CFLAGS.
function(dogfish_build_info target)
  string(TOUPPER "${CMAKE_BUILD_TYPE}" config)
  string(JOIN " " bpf_cflags ${BPF_CLANG} ${DOGFISH_BPF_CFLAGS})
  string(STRIP "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${config}}" cxx_flags)
  target_compile_definitions(${target} PRIVATE
    DF_BUILD_TYPE="${CMAKE_BUILD_TYPE}"
    DF_BUILD_CXX="${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}"
    DF_BUILD_CXX_FLAGS="${cxx_flags}"
    DF_BUILD_BPF_CFLAGS="${bpf_cflags}")
endfunction()
