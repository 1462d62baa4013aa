// rwkv/core/memory_space.hpp — where memory lives, as a type.
//
// Buffers and views carry the memory space their bytes live in as a template parameter, so that a
// pointer into device memory and a pointer into host memory are different types: handing device
// weights to a host loop, or host activations to a device kernel, is a compile error instead of a
// crash (or, worse, silently wrong numbers on a machine with unified addressing). An execution
// space (a backend) names the memory space its kernels read; the two are paired by type.
//
// A memory space is a stateless type of static functions (the `memory_space` concept below):
//   name               a constant, for messages
//   host_accessible    whether host code may dereference the space's pointers; views and buffers
//                      offer element access only when it is true
//   allocate(bytes, alignment) -> void*      fresh memory (contents unspecified); nullptr for 0 bytes;
//                                            throws std::bad_alloc when the space is full
//   deallocate(p, bytes, alignment) noexcept what allocate returned, with the same bytes and alignment
//   copy_from_host(dst, src, bytes)          host memory → the space; src may be reused on return
//   copy_to_host(dst, src, bytes)            the space → host memory; dst is complete on return
//   copy(dst, src, bytes)                    within the space (ranges do not overlap)
//   fill(dst, value, bytes)                  every byte of [dst, dst + bytes) set to value
//   synchronize()                            waits until the space's earlier copies and fills are done
// copy and fill may run asynchronously in a device space: they are ordered before whatever the
// space does next (a kernel, a copy_to_host), and synchronize() waits for them; the host ends of
// copy_from_host / copy_to_host are done with when those return.
#pragma once

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>
#include <type_traits>

#include "rwkv/core/platform.hpp"

namespace rwkv {

template <class S>
concept memory_space = requires(void* dst, const void* src, std::size_t bytes, std::size_t alignment,
                                std::byte value) {
    { S::name } -> std::convertible_to<std::string_view>;
    { S::host_accessible } -> std::convertible_to<bool>;
    // Both are compile-time constants: element access is chosen on host_accessible at compile time.
    typename std::bool_constant<S::host_accessible>;
    typename std::integral_constant<std::size_t, std::string_view(S::name).size()>;
    { S::allocate(bytes, alignment) } -> std::same_as<void*>;
    { S::deallocate(dst, bytes, alignment) } noexcept;  // called from destructors
    S::copy_from_host(dst, src, bytes);
    S::copy_to_host(dst, src, bytes);
    S::copy(dst, src, bytes);
    S::fill(dst, value, bytes);
    S::synchronize();
};

// A space whose memory host code may read and write directly.
template <class S>
concept host_accessible_space = memory_space<S> && S::host_accessible;

// The host heap. Allocations are 64-byte aligned (a cache line; the widest SIMD register). Those of
// 2 MiB or more (weights streamed once per token) are 2 MiB aligned, rounded up to whole 2 MiB
// pages and asked to live on transparent huge pages (the OS may decline), which spares the page
// walks of a pass over them.
struct host_space {
    static constexpr std::string_view name = "host";
    static constexpr bool host_accessible = true;
    static constexpr std::size_t min_alignment = 64;
    static constexpr std::size_t huge_page = std::size_t{2} << 20;

    static void* allocate(std::size_t bytes, std::size_t alignment = min_alignment) {
        if (bytes == 0) return nullptr;
        const layout l = layout_of(bytes, alignment);
        void* p = ::operator new(l.reserved, std::align_val_t{l.alignment});
        if (l.huge) platform::advise_huge_pages(p, l.reserved);  // a hint
        return p;
    }
    static void deallocate(void* p, std::size_t bytes, std::size_t alignment = min_alignment) noexcept {
        if (p == nullptr) return;
        ::operator delete(p, std::align_val_t{layout_of(bytes, alignment).alignment});
    }
    static void copy_from_host(void* dst, const void* src, std::size_t bytes) noexcept { copy(dst, src, bytes); }
    static void copy_to_host(void* dst, const void* src, std::size_t bytes) noexcept { copy(dst, src, bytes); }
    static void copy(void* dst, const void* src, std::size_t bytes) noexcept {
        if (bytes != 0) std::memcpy(dst, src, bytes);  // memcpy of null pointers is undefined even for 0 bytes
    }
    static void fill(void* dst, std::byte value, std::size_t bytes) noexcept {
        if (bytes != 0) std::memset(dst, std::to_integer<int>(value), bytes);
    }
    static void synchronize() noexcept {}

private:
    struct layout {
        bool huge;
        std::size_t alignment, reserved;
    };
    // The same arguments give the same layout, so deallocate needs nothing stored beside the pointer.
    static constexpr layout layout_of(std::size_t bytes, std::size_t alignment) noexcept {
        const bool huge = bytes >= huge_page;
        std::size_t a = std::max(std::bit_ceil(alignment == 0 ? std::size_t{1} : alignment), min_alignment);
        if (huge) a = std::max(a, huge_page);
        return {huge, a, huge ? (bytes + huge_page - 1) / huge_page * huge_page : bytes};
    }
};
static_assert(host_accessible_space<host_space>);

// Sets [dst, dst + bytes) of `Space` to zero.
template <memory_space Space>
void fill_zero(void* dst, std::size_t bytes) {
    Space::fill(dst, std::byte{0}, bytes);
}

// A direct copy path from space Src to space Dst that deep_copy takes before any other (for example
// a peer-to-peer copy between two devices, or an asynchronous upload from pinned host memory).
// Specialize it with `static constexpr bool available = true;` and
// `static void copy(void* dst, const void* src, std::size_t bytes);`.
template <class Dst, class Src>
struct space_pair_copy {
    static constexpr bool available = false;
};

// Copies `bytes` from `src` in space Src to `dst` in space Dst. Within one space it is that space's
// copy; between two spaces the pair's hook when there is one, else the host-accessible end's
// counterpart (Dst::copy_from_host when Src may be read by the host, Src::copy_to_host when Dst may
// be written by it); between two spaces the host cannot reach, through a host staging buffer, a
// piece at a time. On return the host ends are done with (as copy_from_host / copy_to_host).
template <memory_space Dst, memory_space Src>
void deep_copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes == 0) return;
    if constexpr (std::is_same_v<Dst, Src>) {
        Dst::copy(dst, src, bytes);
    } else if constexpr (space_pair_copy<Dst, Src>::available) {
        space_pair_copy<Dst, Src>::copy(dst, src, bytes);
    } else if constexpr (Src::host_accessible) {
        Dst::copy_from_host(dst, src, bytes);
    } else if constexpr (Dst::host_accessible) {
        Src::copy_to_host(dst, src, bytes);
    } else {
        constexpr std::size_t piece = std::size_t{4} << 20;  // bounds the staging memory
        const std::size_t staged = std::min(bytes, piece);
        const std::unique_ptr<std::byte[]> stage(new std::byte[staged]);
        auto* d = static_cast<std::byte*>(dst);
        const auto* s = static_cast<const std::byte*>(src);
        for (std::size_t done = 0; done < bytes; done += staged) {
            const std::size_t n = std::min(staged, bytes - done);
            Src::copy_to_host(stage.get(), s + done, n);
            Dst::copy_from_host(d + done, stage.get(), n);  // the stage may be reused once this returns
        }
    }
}

}  // namespace rwkv
