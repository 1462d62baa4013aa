# rwkv_any_model(<name> <folder holding instance.cpp and open.cpp>)
#
# Makes the static library <name>: rwkv::any_model compiled once (include/rwkv/any_model.hpp). Every
# backend × architecture pair is its own object, built from instance.cpp with the pair as macros, so
# they compile in parallel; users' translation units then see declarations only
# (RWKV_ANY_MODEL_COMPILED). Needs the targets rwkv::rwkv and rwkv::cpu_kernels.
function(rwkv_any_model name source_dir)
  # RWKV_ANY_MODEL_EACH in include/rwkv/any_model/open.hpp lists the same pairs.
  set(backends cpu reference)
  set(archs goldfinch rwkv4 rwkv5 rwkv6 rwkv7)
  # Built only when something links it: an add_subdirectory user who never does pays nothing.
  add_library(${name} STATIC EXCLUDE_FROM_ALL ${source_dir}/open.cpp)
  target_link_libraries(${name} PUBLIC rwkv::rwkv)
  target_compile_definitions(${name} PUBLIC RWKV_ANY_MODEL_COMPILED)
  target_compile_definitions(${name} PRIVATE $<TARGET_PROPERTY:rwkv::cpu_kernels,INTERFACE_COMPILE_DEFINITIONS>)
  target_compile_features(${name} PUBLIC cxx_std_20)
  # Into shared libraries too (the C API).
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  # Users get the SIMD kernels with it; they are objects linked into the executable, not the archive.
  target_link_libraries(${name} INTERFACE rwkv::cpu_kernels)
  if(TARGET rwkv_warnings)
    target_link_libraries(${name} PRIVATE rwkv_warnings)
  endif()
  foreach(backend IN LISTS backends)
  foreach(arch IN LISTS archs)
    set(obj ${name}_${backend}_${arch})
    add_library(${obj} OBJECT EXCLUDE_FROM_ALL ${source_dir}/instance.cpp)
    target_link_libraries(${obj} PRIVATE rwkv::rwkv)
    target_compile_features(${obj} PRIVATE cxx_std_20)
    # As its users will see the headers: the portable cpu table comes compiled from rwkv::cpu_kernels.
    target_compile_definitions(${obj} PRIVATE $<TARGET_PROPERTY:rwkv::cpu_kernels,INTERFACE_COMPILE_DEFINITIONS>)
    target_compile_definitions(${obj} PRIVATE RWKV_ANY_MODEL_COMPILED RWKV_ANY_MODEL_BACKEND=backends::${backend}
      RWKV_ANY_MODEL_ARCH=${arch})
    set_target_properties(${obj} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    if(TARGET rwkv_warnings)
      target_link_libraries(${obj} PRIVATE rwkv_warnings)
    endif()
    target_sources(${name} PRIVATE $<TARGET_OBJECTS:${obj}>)
  endforeach()
  endforeach()
endfunction()
