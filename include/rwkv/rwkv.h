/* rwkv/rwkv.h — the C API of the rwkv library (shared library rwkv_c, CMake target rwkv::c).
 *
 * Plain C99. Runs RWKV-4, 5.2, 6, 7 and GoldFinch checkpoints in any format the library reads
 * (.pth, safetensors, GGUF, rwkv.cpp ggmf), told apart by content. docs/c-api.md has a walk-through,
 * the mapping from rwkv.cpp's rwkv.h, and a C# P/Invoke snippet.
 *
 * Handles (all opaque):
 *   rwkv_model      weights; immutable once loaded, shared by any number of threads.
 *   rwkv_state      one recurrent state (a conversation, an agent): the model's f32 state list, plus
 *                   GoldFinch's context cache. Copy one to fork a conversation.
 *   rwkv_session    per-thread scratch for eval calls (preallocated workspace), plus a state of its own
 *                   for the simple single-conversation case.
 *   rwkv_tokenizer  text <-> token ids (World vocabulary, GPT-NeoX tokenizer.json, or bytes).
 *   rwkv_sampler    the library's seeded sampler (temperature, top-p, top-k, min-p, penalties).
 * Free states, sessions and samplers before the model they were made from; tokenizers may outlive it.
 * Every *_free accepts NULL.
 *
 * Errors: every call that can fail returns an rwkv_status; RWKV_OK is 0. On failure the message is
 * available from rwkv_last_error(), which is THREAD-LOCAL (like errno): it describes the last failed
 * call made on the calling thread, and every call that returns a status clears it first. No C++
 * exception crosses this boundary; NULL handles and pointers, wrong buffer sizes and out-of-range
 * token ids are reported as RWKV_ERROR_INVALID_ARGUMENT. An eval call that fails leaves its states
 * unchanged: arguments are checked before anything runs.
 *
 * Buffers are owned by the caller and sized in ELEMENTS (floats, token ids) unless a name says bytes.
 * Eval calls allocate nothing on the heap: the session's workspace is allocated when it is made.
 *
 * Thread safety (also stated per call below):
 *   - Calls on distinct handles never interfere, except as stated for a shared model.
 *   - A model is read-only after rwkv_model_load: any number of threads may use it at once, each
 *     with its own session(s) and states. rwkv_model_free must not race with any other use.
 *   - A session, a state and a sampler are used by one thread at a time (the caller serializes).
 *   - A tokenizer is read-only: any number of threads may use it at once.
 */
#ifndef RWKV_RWKV_H
#define RWKV_RWKV_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(RWKV_C_BUILDING)
#    define RWKV_API __declspec(dllexport)
#  else
#    define RWKV_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define RWKV_API __attribute__((visibility("default")))
#else
#  define RWKV_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------------------ */
typedef enum rwkv_status {
    RWKV_OK = 0,
    RWKV_ERROR_INVALID_ARGUMENT = 1, /* NULL, bad size, token id out of range, bad option value */
    RWKV_ERROR_IO = 2,               /* a file is missing, unreadable or unwritable */
    RWKV_ERROR_FORMAT = 3,           /* a file's bytes are malformed */
    RWKV_ERROR_MODEL = 4,            /* the tensors do not form a model the library knows */
    RWKV_ERROR_UNSUPPORTED = 5,      /* a valid request this build cannot serve */
    RWKV_ERROR_STATE = 6,            /* a state of another model, a corrupt state file, a full cache */
    RWKV_ERROR_BUFFER_TOO_SMALL = 7, /* an output buffer is too small; the size needed is reported */
    RWKV_ERROR_OUT_OF_MEMORY = 8,
    RWKV_ERROR_INTERNAL = 9          /* anything else (a bug: please report the message) */
} rwkv_status;

/* The message of the last failed call on this thread ("" if none). Valid until the next call on
 * this thread. Thread-safe (thread-local). */
RWKV_API const char* rwkv_last_error(void);
/* A constant name for a status, e.g. "RWKV_ERROR_IO". Thread-safe. */
RWKV_API const char* rwkv_status_name(rwkv_status status);
/* The library version, e.g. "0.1.0". Thread-safe. */
RWKV_API const char* rwkv_version(void);

/* ---- models ------------------------------------------------------------------------------------ */
typedef struct rwkv_model rwkv_model;
typedef struct rwkv_state rwkv_state;
typedef struct rwkv_session rwkv_session;
typedef struct rwkv_tokenizer rwkv_tokenizer;
typedef struct rwkv_sampler rwkv_sampler;

/* How weights are stored and multiplied. F32 is exact; BF16/F16 round the checkpoint's tensors;
 * INT8/INT4 are block-quantized matrices. */
typedef enum rwkv_precision {
    RWKV_PRECISION_F32 = 0,
    RWKV_PRECISION_BF16 = 1,
    RWKV_PRECISION_F16 = 2,
    RWKV_PRECISION_INT8 = 3,
    RWKV_PRECISION_INT4 = 4
} rwkv_precision;

typedef enum rwkv_backend {
    RWKV_BACKEND_CPU = 0,      /* SIMD kernels chosen at start-up, n_threads threads */
    RWKV_BACKEND_REFERENCE = 1 /* plain loops, double sums; single-threaded; for checking */
} rwkv_backend;

typedef struct rwkv_model_options {
    rwkv_precision precision;     /* default RWKV_PRECISION_F32 */
    rwkv_backend backend;         /* default RWKV_BACKEND_CPU */
    uint32_t n_threads;           /* threads of the model's pool, caller included; 0 = every core */
    size_t max_context;           /* GoldFinch: context cache reserved per state, in tokens; 0 = 4096 */
    const char* goldfinch_config; /* GoldFinch: official {"model": {...}} JSON file; NULL = defaults */
} rwkv_model_options;

/* Fills the defaults above. Thread-safe. */
RWKV_API void rwkv_model_options_init(rwkv_model_options* options);

/* Loads a checkpoint (any supported format) and builds the model. options may be NULL (defaults).
 * On success *out is a new model; on failure *out is NULL. Thread-safe (distinct outputs). */
RWKV_API rwkv_status rwkv_model_load(const char* path, const rwkv_model_options* options, rwkv_model** out);
/* Frees a model. Must not race with any other use of it. */
RWKV_API void rwkv_model_free(rwkv_model* model);

typedef struct rwkv_model_info {
    const char* architecture; /* "rwkv4", "rwkv5", "rwkv6", "rwkv7", "goldfinch"; owned by the model */
    const char* backend;      /* e.g. "cpu/avx2"; owned by the model */
    const char* precision;    /* e.g. "int8"; owned by the model */
    size_t n_vocab, n_embd, n_layer, n_head, head_size;
    size_t state_len;         /* floats of the state list (rwkv_get_state_len) */
    size_t logits_len;        /* floats of one token's logits (= n_vocab) */
    int has_context_cache;    /* 1 for GoldFinch: its states also hold a growing cache */
} rwkv_model_info;

/* Describes a model. Thread-safe. */
RWKV_API rwkv_status rwkv_model_get_info(const rwkv_model* model, rwkv_model_info* out);
/* Floats of a state list, as rwkv_eval_raw's state buffers hold it (0 for NULL). Thread-safe. */
RWKV_API size_t rwkv_get_state_len(const rwkv_model* model);
/* Floats of one token's logits (the vocabulary size; 0 for NULL). Thread-safe. */
RWKV_API size_t rwkv_get_logits_len(const rwkv_model* model);

/* ---- states ------------------------------------------------------------------------------------ */
/* A new state at the architecture's initial value. Thread-safe on a shared model. */
RWKV_API rwkv_status rwkv_state_new(const rwkv_model* model, rwkv_state** out);
/* A new, independent copy of `state` (a fork). Reads `state`: no concurrent writer. */
RWKV_API rwkv_status rwkv_state_clone(const rwkv_state* state, rwkv_state** out);
RWKV_API void rwkv_state_free(rwkv_state* state);
/* Back to the initial value. */
RWKV_API rwkv_status rwkv_state_reset(rwkv_state* state);
/* dst := src; both of the same model (or one of the same shape). */
RWKV_API rwkv_status rwkv_state_copy(rwkv_state* dst, const rwkv_state* src);

/* The state as bytes: the state list as little-endian f32 in the official order (what the official
 * code's state holds, and what rwkv_eval_raw's buffers hold), so *bytes = 4 * state_len; GoldFinch
 * appends its cache: the M cached token ids (int32) then their M rows (as the cache stores them), so
 * the size grows with the context. */
RWKV_API rwkv_status rwkv_state_size(const rwkv_state* state, size_t* bytes);
/* Writes the bytes above into buffer (capacity bytes) and their count into *written.
 * RWKV_ERROR_BUFFER_TOO_SMALL (with *written = the size needed) if capacity is short. */
RWKV_API rwkv_status rwkv_state_get(const rwkv_state* state, void* buffer, size_t capacity, size_t* written);
/* Sets the state from bytes that rwkv_state_get wrote for a state of the same model shape. */
RWKV_API rwkv_status rwkv_state_set(rwkv_state* state, const void* bytes, size_t size);
/* The library's versioned state file (header, shapes, checksum), written atomically. */
RWKV_API rwkv_status rwkv_state_save(const rwkv_state* state, const char* path);
/* Loads a state file into `state`; RWKV_ERROR_STATE if it was saved from a model of another shape. */
RWKV_API rwkv_status rwkv_state_load(rwkv_state* state, const char* path);

/* ---- sessions and evaluation ---------------------------------------------------------------------- */
/* A session: the scratch one thread needs to run the model (allocated here, once), and a state of
 * its own. max_tokens (0 = 64) bounds the rows of one internal step: longer sequences run in chunks
 * of it (same results within 1e-5), and it is the largest batch rwkv_eval_batch takes.
 * Thread-safe on a shared model; the session itself is then used by one thread at a time. */
RWKV_API rwkv_status rwkv_session_new(const rwkv_model* model, size_t max_tokens, rwkv_session** out);
RWKV_API void rwkv_session_free(rwkv_session* session);
/* The session's own state (owned by the session; NULL for NULL). */
RWKV_API rwkv_state* rwkv_session_state(rwkv_session* session);

/* In all eval calls: state NULL means the session's own state; logits (logits_len floats) receives
 * the logits of the last token and may be NULL (with logits_len 0) to only advance the state.
 * logits_len must be at least rwkv_get_logits_len (per state for a batch). Token ids must be in
 * [0, n_vocab). Zero heap allocations. Not thread-safe on the same session or state. */

/* Feeds one token. */
RWKV_API rwkv_status rwkv_eval(rwkv_session* session, rwkv_state* state, int32_t token, float* logits,
                               size_t logits_len);
/* Feeds n_tokens tokens in sequence mode (the projections batched over the tokens): the prompt. */
RWKV_API rwkv_status rwkv_eval_sequence(rwkv_session* session, rwkv_state* state, const int32_t* tokens,
                                        size_t n_tokens, float* logits, size_t logits_len);
/* Steps n_states distinct states at once, state i consuming tokens[i]; row i of logits
 * ([n_states, n_vocab], logits_len >= n_states * n_vocab) is its logits. Each state's result is
 * bitwise that of rwkv_eval on it alone; the weights are read once for all. n_states <= max_tokens. */
RWKV_API rwkv_status rwkv_eval_batch(rwkv_session* session, rwkv_state* const* states, const int32_t* tokens,
                                     size_t n_states, float* logits, size_t logits_len);

/* rwkv.cpp-style calls on caller-owned f32 state buffers of state_len floats (rwkv_get_state_len):
 * state_in NULL means the initial state; state_in may equal state_out. Not for GoldFinch, whose
 * state does not fit a fixed buffer (RWKV_ERROR_UNSUPPORTED): use rwkv_state handles there. */
RWKV_API rwkv_status rwkv_eval_raw(rwkv_session* session, int32_t token, const float* state_in, float* state_out,
                                   size_t state_len, float* logits, size_t logits_len);
RWKV_API rwkv_status rwkv_eval_sequence_raw(rwkv_session* session, const int32_t* tokens, size_t n_tokens,
                                            const float* state_in, float* state_out, size_t state_len,
                                            float* logits, size_t logits_len);
/* Writes the initial state list (state_len floats). Thread-safe. */
RWKV_API rwkv_status rwkv_init_state(const rwkv_model* model, float* state, size_t state_len);

/* ---- tokenizers --------------------------------------------------------------------------------- */
/* Opens a tokenizer: a World vocabulary file (rwkv_vocab_v20230424.txt), a Hugging Face
 * tokenizer.json (GPT-NeoX BPE), or the string "bytes" (one token per byte). Thread-safe. */
RWKV_API rwkv_status rwkv_tokenizer_load(const char* path, rwkv_tokenizer** out);
/* The tokenizer a model implies without a file: byte-level for 256-token models or models marked
 * so, the World vocabulary a llama.cpp GGUF carries. Otherwise RWKV_ERROR_UNSUPPORTED (then load
 * the World vocabulary with rwkv_tokenizer_load). Thread-safe. */
RWKV_API rwkv_status rwkv_tokenizer_for_model(const rwkv_model* model, rwkv_tokenizer** out);
RWKV_API void rwkv_tokenizer_free(rwkv_tokenizer* tokenizer);
/* Ids the tokenizer can produce (0 for NULL). Thread-safe. */
RWKV_API size_t rwkv_tokenizer_vocab_size(const rwkv_tokenizer* tokenizer);
/* The end-of-text id (World: 0), or -1 when the tokenizer has none (bytes) or for NULL. Thread-safe. */
RWKV_API int32_t rwkv_tokenizer_end_of_text(const rwkv_tokenizer* tokenizer);
/* Encodes text_len bytes of UTF-8 into tokens (capacity ids); *n_tokens = ids produced, or needed
 * with RWKV_ERROR_BUFFER_TOO_SMALL (call with tokens NULL, capacity 0 to measure). Thread-safe. */
RWKV_API rwkv_status rwkv_tokenize(const rwkv_tokenizer* tokenizer, const char* text, size_t text_len,
                                   int32_t* tokens, size_t capacity, size_t* n_tokens);
/* Decodes ids into bytes (capacity bytes; a NUL follows them when there is room, not counted);
 * *n_bytes = bytes produced, or needed with RWKV_ERROR_BUFFER_TOO_SMALL. Thread-safe. */
RWKV_API rwkv_status rwkv_detokenize(const rwkv_tokenizer* tokenizer, const int32_t* tokens, size_t n_tokens,
                                     char* text, size_t capacity, size_t* n_bytes);
/* The bytes of one token (not NUL-terminated; possibly part of a UTF-8 character), owned by the
 * tokenizer: for streaming output without allocation. Thread-safe. */
RWKV_API rwkv_status rwkv_token_bytes(const rwkv_tokenizer* tokenizer, int32_t token, const char** bytes,
                                      size_t* n_bytes);

/* ---- sampling ------------------------------------------------------------------------------------- */
typedef struct rwkv_sampler_options {
    float temperature;       /* default 1; 0 = greedy (arg max, lowest id on ties) */
    float top_p;             /* default 1 (off) */
    int32_t top_k;           /* default 0 (off) */
    float min_p;             /* default 0 (off) */
    float presence_penalty;  /* default 0 */
    float frequency_penalty; /* default 0 */
    float penalty_decay;     /* default 1 (none; ChatRWKV uses 0.996) */
    uint64_t seed;           /* default 0 */
} rwkv_sampler_options;

/* Fills the defaults above. Thread-safe. */
RWKV_API void rwkv_sampler_options_init(rwkv_sampler_options* options);
/* A sampler for vocab_size logits (rwkv_get_logits_len). options may be NULL (defaults). Same
 * options, seed and calls => the same tokens, bitwise, on every platform and thread count. */
RWKV_API rwkv_status rwkv_sampler_new(const rwkv_sampler_options* options, size_t vocab_size, rwkv_sampler** out);
RWKV_API void rwkv_sampler_free(rwkv_sampler* sampler);
/* Draws the next token from logits (exactly vocab_size floats). Does not call accept. Zero heap
 * allocations. One thread at a time per sampler. */
RWKV_API rwkv_status rwkv_sample(rwkv_sampler* sampler, const float* logits, size_t logits_len, int32_t* token);
/* Records an emitted token for the penalties. */
RWKV_API rwkv_status rwkv_sampler_accept(rwkv_sampler* sampler, int32_t token);
/* Forgets accepted tokens and re-seeds from the options' seed. */
RWKV_API rwkv_status rwkv_sampler_reset(rwkv_sampler* sampler);

#ifdef __cplusplus
}
#endif

#endif /* RWKV_RWKV_H */
