# rwkv_cpu_kernels(<name> <path to cpu_kernels_isa.cpp>)
#
# Makes an INTERFACE target <name> carrying the cpu backend's SIMD kernels compiled once per
# instruction set (AVX-512, AVX2+FMA+F16C, SSE2) from the one source file; each object registers
# its kernel table at start-up and the backend picks the best the CPU supports (docs/contracts.md:
# xsimd needs one translation unit per ISA). It also carries the portable table, compiled once from
# cpu_kernels_portable.cpp beside that file. On a non-x86 target only the portable table is there. Link <name> into an executable (objects, so no registration is dropped).
function(rwkv_cpu_kernels name source)
  add_library(${name} INTERFACE)
  # The portable table, compiled once (cpu_kernels_portable.cpp beside <source>); users' translation
  # units then only declare it (RWKV_CPU_KERNELS_COMPILED).
  get_filename_component(source_dir "${source}" DIRECTORY)
  add_library(${name}_portable OBJECT ${source_dir}/cpu_kernels_portable.cpp)
  target_compile_features(${name}_portable PRIVATE cxx_std_20)
  target_include_directories(${name}_portable PRIVATE $<TARGET_PROPERTY:rwkv::rwkv,INTERFACE_INCLUDE_DIRECTORIES>)
  if(TARGET rwkv_warnings)
    target_link_libraries(${name}_portable PRIVATE rwkv_warnings)
  endif()
  target_sources(${name} INTERFACE $<TARGET_OBJECTS:${name}_portable>)
  target_compile_definitions(${name} INTERFACE RWKV_CPU_KERNELS_COMPILED)
  if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64")
    return()
  endif()
  set(isas avx512 avx2 sse2)
  set(ids 3 2 1)
  # g++ 12 warns "may be used uninitialized" inside its own avx512fintrin.h (a known false positive).
  set(flags_avx512 -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  set(flags_avx2 -mavx2 -mfma -mf16c)
  set(flags_sse2 "")
  foreach(isa id IN ZIP_LISTS isas ids)
    set(obj ${name}_${isa})
    add_library(${obj} OBJECT ${source})
    target_compile_features(${obj} PRIVATE cxx_std_20)
    target_include_directories(${obj} PRIVATE $<TARGET_PROPERTY:rwkv::rwkv,INTERFACE_INCLUDE_DIRECTORIES>)
    if(TARGET xsimd)  # find_package(xsimd): its headers (the caller finds it; rwkvConfig.cmake does)
      target_link_libraries(${obj} PRIVATE xsimd)
    endif()
    target_compile_definitions(${obj} PRIVATE RWKV_CPU_ISA=${id})
    target_compile_options(${obj} PRIVATE ${flags_${isa}})
    if(TARGET rwkv_warnings)
      target_link_libraries(${obj} PRIVATE rwkv_warnings)
    endif()
    target_sources(${name} INTERFACE $<TARGET_OBJECTS:${obj}>)
  endforeach()
endfunction()
