# dogfish_bpf_object(NAME SOURCE [INCLUDES dir...] [FLAGS flag...])
#
# Compiles SOURCE with clang -target bpf (-O2 -g, so the object carries BTF) into
# NAME.bpf.o, generates NAME.skel.h with bpftool, and defines the INTERFACE target
# NAME_skel that puts the skeleton on the include path. Header dependencies come
# from clang's depfile, so editing any included header rebuilds the object. FLAGS go to clang
# after the defaults (e.g. -mcpu=v2: the same program compiled to other instructions).

find_program(BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(BPFTOOL NAMES bpftool REQUIRED PATHS /usr/sbin /usr/local/sbin)

execute_process(COMMAND uname -m OUTPUT_VARIABLE _bpf_uname_m OUTPUT_STRIP_TRAILING_WHITESPACE)
# uapi headers include <asm/types.h>, which Debian keeps under the multiarch directory.
set(BPF_MULTIARCH_INCLUDE /usr/include/${_bpf_uname_m}-linux-gnu)
# Every BPF object's code generation flags (benchmarks print them).
set(DOGFISH_BPF_CFLAGS -g -O2 -target bpf -mcpu=v3)

function(dogfish_bpf_object name source)
  cmake_parse_arguments(ARG "" "" "INCLUDES;FLAGS" ${ARGN})
  get_filename_component(src ${source} ABSOLUTE)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  set(dep ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.d)
  set(incs -I${CMAKE_SOURCE_DIR}/bpf/include -I${CMAKE_SOURCE_DIR}/bpf -I${BPF_MULTIARCH_INCLUDE})
  foreach(dir ${ARG_INCLUDES})
    list(APPEND incs -I${dir})
  endforeach()

  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${BPF_CLANG} ${DOGFISH_BPF_CFLAGS} -Wall -Werror ${incs}
            ${ARG_FLAGS} -MD -MF ${dep} -MT ${obj} -c ${src} -o ${obj}
    DEPENDS ${src}
    DEPFILE ${dep}
    COMMENT "BPF ${name}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_bpf_gen DEPENDS ${obj} ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_bpf_gen)
  target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
  target_link_libraries(${name}_skel INTERFACE dogfish_abi PkgConfig::LIBBPF)
  set_property(GLOBAL PROPERTY DOGFISH_BPF_OBJECT_${name} ${obj})
endfunction()
