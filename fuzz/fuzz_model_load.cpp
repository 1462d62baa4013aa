// Fuzz target: checkpoint bytes → tensor_file → architecture detection → the concrete model, as
// any_model::open does it (any_model only opens paths, so the switch is repeated here over memory),
// with every shape, rank, head-size, layer-count and NaN/Inf check of the five architectures.
// A model that loads then runs two tokens in sequence mode and one in RNN mode, and its state goes
// through serialize_state/deserialize_state and require_layout.
//
// The precision policy comes from the input's length (even: f32, odd: bf16) so that both the
// zero-copy f32 views and the converting/packing path are exercised without a byte of the file
// being spent on it.
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"
#include "rwkv/backends/reference.hpp"
#include "rwkv/core/precision.hpp"
#include "rwkv/core/state.hpp"
#include "rwkv/io/tensor_file.hpp"
#include "rwkv/models/detect.hpp"
#include "rwkv/models/goldfinch.hpp"
#include "rwkv/models/rwkv4.hpp"
#include "rwkv/models/rwkv5.hpp"
#include "rwkv/models/rwkv6.hpp"
#include "rwkv/models/rwkv7.hpp"
#include "rwkv/state/state_file.hpp"

namespace {

template <class Model>
void exercise(const Model& m) {
    const auto& c = m.cfg();
    RWKV_FUZZ_CHECK(c.n_vocab > 0 && c.n_embd > 0 && c.n_layer > 0);
    rwkv::state st = m.make_state();
    RWKV_FUZZ_CHECK(st.values().size() == m.layout().total);

    const std::int32_t last = static_cast<std::int32_t>(c.n_vocab - 1);
    const std::vector<std::int32_t> two = {0, last};
    const auto logits = m.forward(two, st, rwkv::logits_mode::last);
    RWKV_FUZZ_CHECK(logits.size() == c.n_vocab);
    const std::vector<std::int32_t> one = {last};
    auto ws = m.make_workspace(1);
    std::vector<float> out(c.n_vocab);
    m.forward(one, st, ws, out, rwkv::logits_mode::last);

    // Out-of-range tokens are an invalid_argument, never a read outside the embedding.
    const std::vector<std::int32_t> bad = {static_cast<std::int32_t>(c.n_vocab)};
    RWKV_FUZZ_CHECK(!rwkv_fuzz::accepted("forward(bad token)", [&] { m.forward(bad, st, ws, out, rwkv::logits_mode::last); }));

    const auto bytes = rwkv::serialize_state(st);
    const rwkv::state back = rwkv::deserialize_state(bytes, "fuzz-state");
    back.require_layout(m.layout(), "fuzz");
    RWKV_FUZZ_CHECK(back.values().size() == st.values().size());
}

template <class Precision>
void load(rwkv::io::tensor_file file) {
    using rwkv::backends::reference;
    const rwkv::architecture arch = rwkv::detect_architecture(file);
    switch (arch) {
        case rwkv::architecture::rwkv4: exercise(rwkv::rwkv4::model<reference, Precision>(std::move(file))); return;
        case rwkv::architecture::rwkv5: exercise(rwkv::rwkv5::model<reference, Precision>(std::move(file))); return;
        case rwkv::architecture::rwkv6: exercise(rwkv::rwkv6::model<reference, Precision>(std::move(file))); return;
        case rwkv::architecture::rwkv7: exercise(rwkv::rwkv7::model<reference, Precision>(std::move(file))); return;
        case rwkv::architecture::goldfinch: {
            rwkv::goldfinch::options opt;
            opt.max_context = 16;
            exercise(rwkv::goldfinch::model<reference, Precision>(std::move(file), opt));
            return;
        }
    }
    RWKV_FUZZ_CHECK(!"detect_architecture returned an unknown architecture");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto input = rwkv_fuzz::as_bytes(data, size);
    rwkv_fuzz::accepted("model_load", [&] {
        auto file = rwkv::io::tensor_file::from_memory(input, "fuzz-input");
        if (size % 2 == 0) {
            load<rwkv::precision::f32>(std::move(file));
        } else {
            load<rwkv::precision::bf16>(std::move(file));
        }
    });
    return 0;
}
