# Compiles a BPF C program with clang and generates its libbpf skeleton with bpftool.
find_program(CLANG_BPF NAMES clang clang-16 clang-15 clang-14 REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
execute_process(COMMAND ${CMAKE_C_COMPILER} -print-multiarch
  OUTPUT_VARIABLE CGFW_MULTIARCH OUTPUT_STRIP_TRAILING_WHITESPACE)

# vmlinux.h for CO-RE programs, from the build host's kernel BTF (relocated at load time on any
# kernel with BTF). CGFW_VMLINUX_H points at a ready one instead.
set(CGFW_VMLINUX_H "" CACHE FILEPATH "A vmlinux.h to use instead of dumping /sys/kernel/btf/vmlinux")
set(CGFW_VMLINUX_OUT ${CMAKE_BINARY_DIR}/bpf/vmlinux.h)
if(CGFW_VMLINUX_H)
  configure_file(${CGFW_VMLINUX_H} ${CGFW_VMLINUX_OUT} COPYONLY)
  add_custom_target(cgfw_vmlinux_h)
else()
  add_custom_command(
    OUTPUT ${CGFW_VMLINUX_OUT}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/bpf
    COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${CGFW_VMLINUX_OUT}
    COMMENT "bpftool btf dump -> vmlinux.h")
  add_custom_target(cgfw_vmlinux_h DEPENDS ${CGFW_VMLINUX_OUT})
endif()

function(cgfw_bpf_skeleton name source)
  set(out_dir ${CMAKE_BINARY_DIR}/bpf)
  set(object ${out_dir}/${name}.bpf.o)
  set(skeleton ${out_dir}/${name}.skel.h)
  file(GLOB bpf_headers ${CMAKE_SOURCE_DIR}/bpf/*.h)
  add_custom_command(
    OUTPUT ${object}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    # -idirafter: asm/types.h lives in the multiarch include dir, which clang -target bpf skips.
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -Wall -Werror -D__TARGET_ARCH_x86
            -I${CMAKE_SOURCE_DIR} -I${out_dir} -idirafter /usr/include/${CGFW_MULTIARCH} -idirafter /usr/include
            -c ${CMAKE_SOURCE_DIR}/${source} -o ${object}
    DEPENDS ${CMAKE_SOURCE_DIR}/${source} ${bpf_headers} ${CGFW_VMLINUX_OUT}
    COMMENT "clang -target bpf ${source}")
  add_custom_command(
    OUTPUT ${skeleton}
    COMMAND ${BPFTOOL} gen skeleton ${object} name ${name}_bpf > ${skeleton}
    DEPENDS ${object}
    COMMENT "bpftool gen skeleton ${name}")
  add_custom_target(${name}_skeleton DEPENDS ${skeleton})
endfunction()
