# CMake toolchain file: cross-compile for 64-bit Windows with MinGW-w64 (Debian: g++-mingw-w64-x86-64,
# the posix-threads variant, which std::thread needs). Used by scripts/test-windows; docs/windows.md.
#
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/mingw-w64-x86_64.cmake \
#         -DRWKV_WIN_DEPS=<prefix holding the dependencies built for Windows>
#
# Executables link libstdc++, libgcc and winpthread statically (-static), so they run under Wine or
# on Windows without MinGW's DLLs beside them. CMAKE_CROSSCOMPILING_EMULATOR is wine64 when found.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(RWKV_MINGW_TRIPLE x86_64-w64-mingw32)
find_program(CMAKE_C_COMPILER NAMES ${RWKV_MINGW_TRIPLE}-gcc-posix ${RWKV_MINGW_TRIPLE}-gcc REQUIRED)
find_program(CMAKE_CXX_COMPILER NAMES ${RWKV_MINGW_TRIPLE}-g++-posix ${RWKV_MINGW_TRIPLE}-g++ REQUIRED)
find_program(CMAKE_RC_COMPILER NAMES ${RWKV_MINGW_TRIPLE}-windres)

# Where find_* look: MinGW's own sysroot and the dependencies' prefix, never the host's /usr
# (its glibc headers must not reach the Windows compiler).
set(RWKV_WIN_DEPS "" CACHE PATH "Prefix holding the dependencies built or staged for Windows")
set(CMAKE_FIND_ROOT_PATH /usr/${RWKV_MINGW_TRIPLE} ${RWKV_WIN_DEPS})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -static-libstdc++")

find_program(RWKV_WINE NAMES wine64 wine PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(RWKV_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${RWKV_WINE})
endif()

# try_compile projects re-read this file: hand them the prefix.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES RWKV_WIN_DEPS)
