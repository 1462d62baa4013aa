# rwkv_find_utf8proc(): the imported target rwkv::utf8proc (headers and library of utf8proc, which
# the GPT-NeoX BPE tokenizer uses for NFC and Unicode classes). Debian's libutf8proc-dev ships no
# CMake package, so the library is found by name; pkg-config's libutf8proc.pc, when present, hints
# where. Used by rwkv's own build and by its installed package config (rwkvConfig.cmake).
function(rwkv_find_utf8proc)
  if(TARGET rwkv::utf8proc)
    return()
  endif()
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(RWKV_PC_UTF8PROC QUIET libutf8proc)
  endif()
  find_path(RWKV_UTF8PROC_INCLUDE utf8proc.h HINTS ${RWKV_PC_UTF8PROC_INCLUDE_DIRS})
  find_library(RWKV_UTF8PROC_LIBRARY utf8proc HINTS ${RWKV_PC_UTF8PROC_LIBRARY_DIRS})
  if(NOT RWKV_UTF8PROC_INCLUDE OR NOT RWKV_UTF8PROC_LIBRARY)
    message(FATAL_ERROR "rwkv needs utf8proc (Debian: libutf8proc-dev); set RWKV_UTF8PROC_INCLUDE and "
                        "RWKV_UTF8PROC_LIBRARY if it is somewhere CMake does not look")
  endif()
  add_library(rwkv::utf8proc UNKNOWN IMPORTED GLOBAL)
  set_target_properties(rwkv::utf8proc PROPERTIES IMPORTED_LOCATION "${RWKV_UTF8PROC_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${RWKV_UTF8PROC_INCLUDE}")
  if(WIN32 AND RWKV_UTF8PROC_LIBRARY MATCHES "\\.a$|\\.lib$" AND NOT RWKV_UTF8PROC_LIBRARY MATCHES "\\.dll\\.a$")
    # A static utf8proc on Windows: without UTF8PROC_STATIC its header declares dllimport functions.
    set_property(TARGET rwkv::utf8proc PROPERTY INTERFACE_COMPILE_DEFINITIONS UTF8PROC_STATIC)
  endif()
endfunction()
