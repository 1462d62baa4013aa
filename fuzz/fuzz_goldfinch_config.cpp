// Fuzz target: rwkv::goldfinch::read_config — the official GoldFinch {"model": {...}} config JSON
// (the only JSON config the library reads). read_config takes a path, so the bytes go into an
// anonymous in-memory file (memfd_create) opened through /proc/self/fd: nothing touches the disk.
//
// Oracle: a config that is accepted has positive sizes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_support.hpp"
#include "rwkv/models/goldfinch.hpp"

namespace {

int the_memfd() {
    static const int fd = [] {
        const int f = ::memfd_create("rwkv-fuzz-config", MFD_CLOEXEC);
        if (f < 0) std::abort();
        return f;
    }();
    return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const int fd = the_memfd();
    if (::ftruncate(fd, 0) != 0) std::abort();
    for (std::size_t done = 0; done < size;) {
        const ssize_t w = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
        if (w <= 0) std::abort();
        done += static_cast<std::size_t>(w);
    }
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    rwkv_fuzz::accepted("goldfinch_config", [&] {
        const auto opt = rwkv::goldfinch::read_config(path);
        RWKV_FUZZ_CHECK(opt.head_size > 0);
        RWKV_FUZZ_CHECK(!opt.inv_other_layer_ratio || *opt.inv_other_layer_ratio > 0);
    });
    return 0;
}
