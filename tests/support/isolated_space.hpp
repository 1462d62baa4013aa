// tests/support/isolated_space.hpp — a memory space the host cannot touch, for tests only.
//
// rwkv::testing::isolated_space stands in for device memory on a machine without a device: code
// written against memory spaces can be tested for never dereferencing a space's pointers on the
// host, at compile time (host_accessible = false, so views and buffers have no element access) and
// at run time (a stray read or write faults).
//
// Design:
//   * One region of address space, reserved once with an anonymous mapping (`capacity` bytes,
//     committed only as it is touched) and never returned to the OS, so that nothing the space
//     hands out can come from, or be mistaken for, the normal heap.
//   * A first-fit free list over the region (offset → length, coalesced on free); allocations are
//     rounded to 64-byte granules and aligned as asked (≥ 64). Bookkeeping lives on the normal
//     heap; only element bytes live in the region.
//   * The region is mapped PROT_NONE except while the space itself works in it: copy_from_host,
//     copy_to_host, copy and fill take an `access` guard, which makes the used part of the region
//     readable and writable, and the last guard to end protects it again. A kernel of a test
//     backend that "runs inside the space" takes the same guard for its duration. Anything else
//     that dereferences a pointer of the space — a host loop handed a device view through a cast,
//     a buffer read through data_handle() — dies with SIGSEGV.
//   * Fresh allocations are filled with `fresh_byte` and freed ones with `freed_byte`, so a buffer
//     that forgets to zero its memory, or code that reads freed memory inside a guard, sees garbage
//     instead of the zeros a fresh mapping would give.
//   * Misuse the type system cannot see aborts with a message: a copy or fill whose range leaves
//     the region or any live allocation, a deallocate of a pointer or size that was not allocated.
//
// The guard is process-wide (page protection is): while any thread holds one, every thread may
// touch the region. That is enough for tests, which check that code outside guards never does.
//
// `basic_isolated_space<Tag>` gives each tag its own region, so a test can have two spaces that
// cannot reach each other (deep_copy between them stages through the host).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <string_view>

#include "rwkv/core/memory_space.hpp"
#include "rwkv/core/platform.hpp"

namespace rwkv::testing {

struct isolated_tag {
    static constexpr std::string_view name = "isolated";
};

template <class Tag>
class basic_isolated_space {
public:
    static constexpr std::string_view name = Tag::name;
    static constexpr bool host_accessible = false;
    static constexpr std::size_t capacity = std::size_t{256} << 20;  // address space, not memory
    static constexpr std::size_t granule = 64;
    static constexpr std::byte fresh_byte{0xA5}, freed_byte{0xDD};

    // Makes the region readable and writable until destroyed (nests; process-wide).
    class access {
    public:
        access() { heap().enter(); }
        ~access() { heap().leave(); }
        access(const access&) = delete;
        access& operator=(const access&) = delete;
    };

    static void* allocate(std::size_t bytes, std::size_t alignment) { return heap().allocate(bytes, alignment); }
    static void deallocate(void* p, std::size_t bytes, std::size_t alignment) noexcept {
        heap().deallocate(p, bytes, alignment);
    }
    static void copy_from_host(void* dst, const void* src, std::size_t bytes) {
        if (bytes == 0) return;
        heap().check_inside(dst, bytes, "copy_from_host destination");
        heap().check_outside(src, bytes, "copy_from_host source");
        const access guard;
        std::memcpy(dst, src, bytes);
    }
    static void copy_to_host(void* dst, const void* src, std::size_t bytes) {
        if (bytes == 0) return;
        heap().check_outside(dst, bytes, "copy_to_host destination");
        heap().check_inside(src, bytes, "copy_to_host source");
        const access guard;
        std::memcpy(dst, src, bytes);
    }
    static void copy(void* dst, const void* src, std::size_t bytes) {
        if (bytes == 0) return;
        heap().check_inside(dst, bytes, "copy destination");
        heap().check_inside(src, bytes, "copy source");
        const access guard;
        std::memcpy(dst, src, bytes);
    }
    static void fill(void* dst, std::byte value, std::size_t bytes) {
        if (bytes == 0) return;
        heap().check_inside(dst, bytes, "fill destination");
        const access guard;
        std::memset(dst, std::to_integer<int>(value), bytes);
    }
    static void synchronize() noexcept {}

    // Whether [p, p + bytes) lies in one live allocation of this space.
    static bool contains(const void* p, std::size_t bytes = 1) noexcept { return heap().live_range(p, bytes); }
    // Bytes and allocations live now (for leak checks around a test).
    static std::size_t bytes_in_use() noexcept { return heap().in_use(); }
    static std::size_t live_allocations() noexcept { return heap().live_count(); }
    // Whether an access guard is held (the region is unprotected).
    static bool accessible() noexcept { return heap().depth() > 0; }

private:
    class region {
    public:
        region() {
            base_ = static_cast<std::byte*>(platform::map_anonymous(capacity, platform::page_access::none, true));
            if (base_ == nullptr) fail("cannot reserve the region");
            free_[0] = capacity;
        }

        void* allocate(std::size_t bytes, std::size_t alignment) {
            if (bytes == 0) return nullptr;
            const std::size_t align = std::max(std::bit_ceil(std::max<std::size_t>(alignment, 1)), granule);
            const std::size_t length = (bytes + granule - 1) / granule * granule;
            std::byte* p = nullptr;
            {
                const std::lock_guard lock(mutex_);
                for (auto it = free_.begin(); it != free_.end(); ++it) {
                    const std::size_t start = (it->first + align - 1) / align * align;
                    const std::size_t end = it->first + it->second;
                    if (start > end || end - start < length) continue;
                    const std::size_t before = start - it->first, after = end - start - length;
                    free_.erase(it);
                    if (before != 0) free_[start - before] = before;
                    if (after != 0) free_[start + length] = after;
                    live_[start] = length;
                    in_use_ += length;
                    grow_used(start + length);
                    p = base_ + start;
                    break;
                }
            }
            if (p == nullptr) throw std::bad_alloc();
            const access guard;
            std::memset(p, std::to_integer<int>(fresh_byte), length);
            return p;
        }

        void deallocate(void* p, std::size_t bytes, std::size_t) noexcept {
            if (p == nullptr) return;
            const std::size_t length = (bytes + granule - 1) / granule * granule;
            const std::size_t start = offset_of(p);
            {
                const std::lock_guard lock(mutex_);
                const auto it = inside_region(p) ? live_.find(start) : live_.end();
                if (it == live_.end()) fail("deallocate of a pointer it did not allocate");
                if (it->second != length) fail("deallocate with another size than allocate's");
                live_.erase(it);
                in_use_ -= length;
            }
            {
                // Neither live nor free meanwhile: nobody else can be handed these bytes.
                const access guard;
                std::memset(p, std::to_integer<int>(freed_byte), length);
            }
            // Back on the free list, merged with its neighbours.
            const std::lock_guard lock(mutex_);
            auto it = free_.emplace(start, length).first;
            if (const auto next = std::next(it); next != free_.end() && it->first + it->second == next->first) {
                it->second += next->second;
                free_.erase(next);
            }
            if (it != free_.begin()) {
                if (const auto prev = std::prev(it); prev->first + prev->second == it->first) {
                    prev->second += it->second;
                    free_.erase(it);
                }
            }
        }

        void enter() {
            const std::lock_guard lock(mutex_);
            if (depth_++ == 0 && used_ != 0) set_access(0, used_, platform::page_access::read_write);
        }
        void leave() noexcept {
            const std::lock_guard lock(mutex_);
            if (--depth_ == 0 && used_ != 0) set_access(0, used_, platform::page_access::none);
        }

        void check_inside(const void* p, std::size_t bytes, const char* what) const noexcept {
            if (!live_range(p, bytes)) fail(what, " is not inside one live allocation of the space");
        }
        void check_outside(const void* p, std::size_t bytes, const char* what) const noexcept {
            const std::uintptr_t b = address(p), lo = address(base_);
            if (b < lo + capacity && b + bytes > lo) fail(what, " lies in the space, not on the host");
        }
        bool live_range(const void* p, std::size_t bytes) const noexcept {
            if (!inside_region(p)) return false;
            const std::lock_guard lock(mutex_);
            const std::size_t off = offset_of(p);
            auto it = live_.upper_bound(off);  // the first allocation starting after p
            if (it == live_.begin()) return false;
            --it;
            return bytes <= it->first + it->second - off;
        }
        std::size_t in_use() const noexcept {
            const std::lock_guard lock(mutex_);
            return in_use_;
        }
        std::size_t live_count() const noexcept {
            const std::lock_guard lock(mutex_);
            return live_.size();
        }
        int depth() const noexcept {
            const std::lock_guard lock(mutex_);
            return depth_;
        }

    private:
        // Addresses as integers: pointers from outside the region may not be compared with its own.
        static std::uintptr_t address(const void* p) noexcept { return reinterpret_cast<std::uintptr_t>(p); }
        bool inside_region(const void* p) const noexcept { return address(p) - address(base_) < capacity; }
        std::size_t offset_of(const void* p) const noexcept { return address(p) - address(base_); }
        // Pages [0, used_) have held allocations: those are the ones guards open and close. Called
        // with the mutex held; a region that grows inside a guard is opened at once.
        void grow_used(std::size_t end) {
            const std::size_t page = platform::page_size();
            const std::size_t rounded = (end + page - 1) / page * page;
            if (rounded <= used_) return;
            if (depth_ > 0) set_access(used_, rounded - used_, platform::page_access::read_write);
            used_ = rounded;
        }
        void set_access(std::size_t offset, std::size_t bytes, platform::page_access a) const noexcept {
            if (!platform::protect(base_ + offset, bytes, a)) fail("cannot change page protection");
        }
        [[noreturn]] static void fail(const char* what, const char* why = "") noexcept {
            std::fprintf(stderr, "rwkv::testing::%.*s: %s%s\n", static_cast<int>(name.size()), name.data(), what, why);
            std::abort();
        }

        mutable std::mutex mutex_;
        std::byte* base_ = nullptr;
        std::map<std::size_t, std::size_t> free_;  // offset → length of each free block
        std::map<std::size_t, std::size_t> live_;  // offset → length of each allocation
        std::size_t in_use_ = 0, used_ = 0;
        int depth_ = 0;
    };

    // Made once and never destroyed: buffers with static storage may outlive any destruction order.
    static region& heap() {
        static region* const r = new region();
        return *r;
    }
};

using isolated_space = basic_isolated_space<isolated_tag>;
static_assert(rwkv::memory_space<isolated_space> && !isolated_space::host_accessible);

}  // namespace rwkv::testing
