/* The C API (include/rwkv/rwkv.h), tested from C: logits against the official goldens, batches
 * bitwise equal to single steps, state bytes/copies/files, tokenizers, seeded sampling, and every
 * error path returning a status with a message. Plain main; exits 1 on any failure, and 0 with one
 * line when ../shared (the goldens) is absent. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rwkv/rwkv.h"

#ifndef RWKV_TEST_SHARED_DIR
#define RWKV_TEST_SHARED_DIR "../shared"
#endif

static int failures = 0;
static double worst_rnn = 0.0, worst_seq = 0.0, worst_state = 0.0, worst_raw = 0.0, worst_goldfinch = 0.0;

static void fail(const char* where, const char* fmt, ...) {
    va_list args;
    fprintf(stderr, "FAIL %s: ", where);
    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fprintf(stderr, "\n");
    ++failures;
}

#define CHECK(cond, ...)                                \
    do {                                                \
        if (!(cond)) fail(#cond, __VA_ARGS__);          \
    } while (0)

/* A call that must succeed; on failure, print the message and stop this section. */
#define OK_OR(call, on_fail)                                                                       \
    do {                                                                                           \
        rwkv_status ok_or_status_ = (call);                                                        \
        if (ok_or_status_ != RWKV_OK) {                                                            \
            fail(#call, "%s: %s", rwkv_status_name(ok_or_status_), rwkv_last_error());             \
            on_fail;                                                                               \
        }                                                                                          \
    } while (0)

/* A call that must fail with `expected` and leave a message. */
static void expect_error(rwkv_status got, rwkv_status expected, const char* what) {
    if (got != expected) {
        fail(what, "expected %s, got %s (%s)", rwkv_status_name(expected), rwkv_status_name(got), rwkv_last_error());
        return;
    }
    if (rwkv_last_error()[0] == '\0') fail(what, "%s came without a message", rwkv_status_name(got));
}

/* ---- files ----------------------------------------------------------------------------------------- */

static char* path_of(const char* dir, const char* name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char* p = malloc(n);
    if (!p) abort();
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void* read_all(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    long n;
    void* data;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    data = malloc((size_t)n + 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n) {
        free(data);
        fclose(f);
        return NULL;
    }
    fclose(f);
    ((char*)data)[n] = '\0';
    *size = (size_t)n;
    return data;
}

/* The golden file `prefix.suffix` as floats; *count floats. */
static float* read_f32(const char* golden, const char* prefix, const char* suffix, size_t* count) {
    char name[256];
    size_t bytes = 0;
    char* p;
    float* data;
    snprintf(name, sizeof name, "%s%s", prefix, suffix);
    p = path_of(golden, name);
    data = read_all(p, &bytes);
    if (!data) fail("read_f32", "cannot read %s", p);
    free(p);
    *count = bytes / sizeof(float);
    return data;
}

/* A JSON array of ints (the goldens' .tokens.json). */
static int32_t* read_tokens(const char* golden, const char* prefix, size_t* count) {
    char name[256];
    size_t bytes = 0, n = 0;
    char *p, *text, *c;
    int32_t* ids;
    snprintf(name, sizeof name, "%s.tokens.json", prefix);
    p = path_of(golden, name);
    text = read_all(p, &bytes);
    free(p);
    if (!text) return NULL;
    ids = malloc(sizeof(int32_t) * (bytes / 2 + 1));
    if (!ids) abort();
    for (c = text; *c;) {
        if (*c == '-' || (*c >= '0' && *c <= '9')) {
            ids[n++] = (int32_t)strtol(c, &c, 10);
        } else {
            ++c;
        }
    }
    free(text);
    *count = n;
    return ids;
}

static double max_abs_diff(const float* a, const float* b, size_t n) {
    double m = 0.0;
    size_t i;
    for (i = 0; i < n; ++i) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

static double max_of(double a, double b) { return a > b ? a : b; }

/* The state's byte image, malloc'd. */
static unsigned char* state_bytes(const rwkv_state* s, size_t* size) {
    unsigned char* buf;
    size_t written = 0;
    if (rwkv_state_size(s, size) != RWKV_OK) return NULL;
    buf = malloc(*size ? *size : 1);
    if (!buf) abort();
    if (rwkv_state_get(s, buf, *size, &written) != RWKV_OK || written != *size) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int same_state(const rwkv_state* a, const rwkv_state* b) {
    size_t na = 0, nb = 0;
    unsigned char* x = state_bytes(a, &na);
    unsigned char* y = state_bytes(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static rwkv_model* load(const char* golden, const char* file, rwkv_precision precision) {
    rwkv_model_options o;
    rwkv_model* m = NULL;
    char* p = path_of(golden, file);
    rwkv_model_options_init(&o);
    o.precision = precision;
    o.n_threads = 2;
    o.max_context = 64;
    if (rwkv_model_load(p, &o, &m) != RWKV_OK) fail("rwkv_model_load", "%s: %s", p, rwkv_last_error());
    free(p);
    return m;
}

/* ---- logits against the goldens (RNN mode, sequence mode, raw buffers, final state) ---------------- */

static void golden_logits(const char* golden, const char* prefix) {
    char file[256];
    rwkv_model* m;
    rwkv_session* session = NULL;
    rwkv_state* seq = NULL;
    size_t T = 0, n_rnn = 0, n_seq = 0, n_state = 0, V, L, t, state_size = 0;
    int32_t* tokens = read_tokens(golden, prefix, &T);
    float *rnn = read_f32(golden, prefix, ".logits.f32", &n_rnn);
    float *last_seq = read_f32(golden, prefix, ".seq-logits.f32", &n_seq);
    float *final_state = read_f32(golden, prefix, ".state.f32", &n_state);
    float *logits = NULL, *raw_state = NULL;
    unsigned char* bytes = NULL;
    double d;

    snprintf(file, sizeof file, "%s.safetensors", prefix);
    m = load(golden, file, RWKV_PRECISION_F32);
    if (!m || !tokens || !rnn || !last_seq || !final_state) goto done;
    V = rwkv_get_logits_len(m);
    L = rwkv_get_state_len(m);
    CHECK(n_rnn == T * V && n_seq == V && n_state == L, "%s: golden sizes do not match the model", prefix);
    if (n_rnn != T * V || n_seq != V || n_state != L) goto done;
    logits = malloc(V * sizeof(float));
    raw_state = malloc(L * sizeof(float));
    if (!logits || !raw_state) abort();
    OK_OR(rwkv_session_new(m, 16, &session), goto done);

    /* RNN mode, on the session's own state: one call per token. */
    for (t = 0; t < T; ++t) {
        OK_OR(rwkv_eval(session, NULL, tokens[t], logits, V), goto done);
        d = max_abs_diff(logits, rnn + t * V, V);
        worst_rnn = max_of(worst_rnn, d);
        CHECK(d <= 1e-4, "%s: RNN logits at token %zu differ by %g", prefix, t, d);
    }
    bytes = state_bytes(rwkv_session_state(session), &state_size);
    CHECK(bytes && state_size == L * sizeof(float), "%s: state image of %zu bytes", prefix, state_size);
    if (bytes && state_size == L * sizeof(float)) {
        d = max_abs_diff((const float*)(const void*)bytes, final_state, L);
        worst_state = max_of(worst_state, d);
        CHECK(d <= 1e-4, "%s: final state differs from the official one by %g", prefix, d);
    }

    /* Sequence mode (chunks of 16 rows: the session's max_tokens) on a state handle. */
    OK_OR(rwkv_state_new(m, &seq), goto done);
    OK_OR(rwkv_eval_sequence(session, seq, tokens, T, logits, V), goto done);
    d = max_abs_diff(logits, last_seq, V);
    worst_seq = max_of(worst_seq, d);
    CHECK(d <= 1e-4, "%s: sequence logits differ by %g", prefix, d);

    /* rwkv.cpp style: caller-owned state buffers, a prompt then single tokens. */
    OK_OR(rwkv_eval_sequence_raw(session, tokens, T / 2, NULL, raw_state, L, NULL, 0), goto done);
    for (t = T / 2; t < T; ++t) OK_OR(rwkv_eval_raw(session, tokens[t], raw_state, raw_state, L, logits, V), goto done);
    d = max_abs_diff(logits, rnn + (T - 1) * V, V);
    worst_raw = max_of(worst_raw, d);
    CHECK(d <= 1e-4, "%s: raw-buffer logits differ by %g", prefix, d);

done:
    printf("%s: checked %zu tokens\n", prefix, T);
    free(bytes);
    free(tokens);
    free(rnn);
    free(last_seq);
    free(final_state);
    free(logits);
    free(raw_state);
    rwkv_state_free(seq);
    rwkv_session_free(session);
    rwkv_model_free(m);
}

/* GoldFinch: a 16-token prompt, then single tokens, through state handles (its cache grows), with
 * the state's byte image round-tripped midway. */
static void golden_goldfinch(const char* golden) {
    const char* prefix = "goldfinch-c128-l3";
    rwkv_model* m = load(golden, "goldfinch-c128-l3.safetensors", RWKV_PRECISION_F32);
    rwkv_session* session = NULL;
    rwkv_state *s = NULL, *copy = NULL;
    size_t T = 0, n = 0, V, t, size = 0, expected_size;
    int32_t* tokens = read_tokens(golden, prefix, &T);
    float* expected = read_f32(golden, prefix, ".decode-logits.f32", &n);
    float *logits = NULL, *logits_copy = NULL, dummy[1];
    unsigned char* bytes = NULL;
    rwkv_model_info info;
    double d;

    if (!m || !tokens || !expected || T < 24) goto done;
    V = rwkv_get_logits_len(m);
    if (n != T * V) goto done;
    logits = malloc(V * sizeof(float));
    logits_copy = malloc(V * sizeof(float));
    if (!logits || !logits_copy) abort();
    OK_OR(rwkv_model_get_info(m, &info), goto done);
    CHECK(info.has_context_cache == 1 && strcmp(info.architecture, "goldfinch") == 0, "GoldFinch info");
    OK_OR(rwkv_session_new(m, 0, &session), goto done);
    OK_OR(rwkv_state_new(m, &s), goto done);
    OK_OR(rwkv_eval_sequence(session, s, tokens, 16, logits, V), goto done);
    d = max_abs_diff(logits, expected + 15 * V, V);
    worst_goldfinch = max_of(worst_goldfinch, d);
    CHECK(d <= 1e-4, "GoldFinch prompt logits differ by %g", d);
    for (t = 16; t < T; ++t) {
        OK_OR(rwkv_eval(session, s, tokens[t], logits, V), goto done);
        d = max_abs_diff(logits, expected + t * V, V);
        worst_goldfinch = max_of(worst_goldfinch, d);
        CHECK(d <= 1e-4, "GoldFinch logits at token %zu differ by %g", t, d);
        if (t == 20) {
            /* The byte image holds the cache: a state set from it continues identically. */
            bytes = state_bytes(s, &size);
            /* 4 bytes per state float, then 21 cached tokens: an id and a row each. */
            expected_size = size > info.state_len * 4 ? size - info.state_len * 4 : 0;
            CHECK(bytes && expected_size > 0 && expected_size % 21 == 0, "GoldFinch image of %zu bytes", size);
            OK_OR(rwkv_state_new(m, &copy), goto done);
            OK_OR(rwkv_state_set(copy, bytes, size), goto done);
            CHECK(same_state(s, copy), "GoldFinch state set from bytes differs");
            expect_error(rwkv_state_set(copy, bytes, size - 1), RWKV_ERROR_INVALID_ARGUMENT, "GoldFinch odd size");
        }
    }
    /* The copy made after token 20 reads token 21 as the original did. */
    OK_OR(rwkv_eval(session, copy, tokens[21], logits_copy, V), goto done);
    d = max_abs_diff(logits_copy, expected + 21 * V, V);
    CHECK(d <= 1e-4, "GoldFinch state set from bytes: next logits differ by %g", d);
    /* The raw-buffer calls cannot carry a cache. */
    expect_error(rwkv_eval_raw(session, 1, NULL, dummy, 1, NULL, 0), RWKV_ERROR_UNSUPPORTED, "GoldFinch raw eval");

done:
    printf("%s: checked %zu tokens\n", prefix, T);
    free(bytes);
    free(tokens);
    free(expected);
    free(logits);
    free(logits_copy);
    rwkv_state_free(s);
    rwkv_state_free(copy);
    rwkv_session_free(session);
    rwkv_model_free(m);
}

/* ---- batches, states, files ------------------------------------------------------------------------ */

static void batch_and_states(const char* golden, const char* tmp_dir) {
    enum { B = 3, STEPS = 4 };
    rwkv_model* m = load(golden, "v7-c128-l2.safetensors", RWKV_PRECISION_F32);
    rwkv_model* other = load(golden, "v6-c128-l2.safetensors", RWKV_PRECISION_F32);
    rwkv_session* session = NULL;
    rwkv_state *batched[B] = {NULL, NULL, NULL}, *alone[B] = {NULL, NULL, NULL};
    rwkv_state *a = NULL, *b = NULL, *foreign = NULL;
    float *batch_logits = NULL, *single = NULL, *other_logits = NULL;
    unsigned char* bytes = NULL;
    size_t V, g, step, size = 0;
    char* file = path_of(tmp_dir, "rwkv-c-api-test.state");
    int32_t tokens[B];

    if (!m || !other) goto done;
    V = rwkv_get_logits_len(m);
    batch_logits = malloc(B * V * sizeof(float));
    single = malloc(V * sizeof(float));
    other_logits = malloc(V * sizeof(float));
    if (!batch_logits || !single || !other_logits) abort();
    OK_OR(rwkv_session_new(m, 8, &session), goto done);

    /* Three agents at different positions: agent g has read g + 1 tokens. */
    for (g = 0; g < B; ++g) {
        int32_t prompt[3] = {5, 77, 200};
        OK_OR(rwkv_state_new(m, &batched[g]), goto done);
        OK_OR(rwkv_eval_sequence(session, batched[g], prompt, g + 1, NULL, 0), goto done);
        OK_OR(rwkv_state_clone(batched[g], &alone[g]), goto done);
    }
    for (step = 0; step < STEPS; ++step) {
        for (g = 0; g < B; ++g) tokens[g] = (int32_t)((7 * g + 13 * step + 1) % V);
        OK_OR(rwkv_eval_batch(session, batched, tokens, B, batch_logits, B * V), goto done);
        for (g = 0; g < B; ++g) {
            OK_OR(rwkv_eval(session, alone[g], tokens[g], single, V), goto done);
            CHECK(memcmp(single, batch_logits + g * V, V * sizeof(float)) == 0,
                  "batch row %zu at step %zu is not bitwise its single eval", g, step);
            CHECK(same_state(batched[g], alone[g]), "batched state %zu at step %zu differs", g, step);
        }
    }

    /* Bytes out and in, copy, reset. */
    bytes = state_bytes(alone[2], &size);
    CHECK(bytes && size == rwkv_get_state_len(m) * sizeof(float), "state image size %zu", size);
    OK_OR(rwkv_state_new(m, &a), goto done);
    OK_OR(rwkv_state_set(a, bytes, size), goto done);
    CHECK(same_state(a, alone[2]), "state set from bytes differs");
    OK_OR(rwkv_eval(session, a, 42, single, V), goto done);
    OK_OR(rwkv_eval(session, alone[2], 42, batch_logits, V), goto done);
    CHECK(memcmp(single, batch_logits, V * sizeof(float)) == 0, "a state set from bytes steps differently");
    OK_OR(rwkv_state_new(m, &b), goto done);
    OK_OR(rwkv_state_copy(b, a), goto done);
    CHECK(same_state(a, b), "rwkv_state_copy differs");
    OK_OR(rwkv_state_reset(b), goto done);
    CHECK(!same_state(a, b), "reset left the state as it was");
    {
        float* init = malloc(rwkv_get_state_len(m) * sizeof(float));
        unsigned char* reset_bytes = state_bytes(b, &size);
        if (!init) abort();
        OK_OR(rwkv_init_state(m, init, rwkv_get_state_len(m)), (void)0);
        CHECK(reset_bytes && memcmp(reset_bytes, init, size) == 0, "a reset state is not the initial state");
        free(init);
        free(reset_bytes);
    }

    /* State files: save, load into another handle, refuse another model's state. */
    OK_OR(rwkv_state_save(a, file), goto done);
    OK_OR(rwkv_state_load(b, file), goto done);
    CHECK(same_state(a, b), "a saved and loaded state differs");
    OK_OR(rwkv_state_new(other, &foreign), goto done);
    expect_error(rwkv_state_load(foreign, file), RWKV_ERROR_STATE, "loading a v7 state into a v6 state");
    expect_error(rwkv_state_copy(foreign, a), RWKV_ERROR_STATE, "copying a v7 state into a v6 state");
    expect_error(rwkv_eval(session, foreign, 1, single, V), RWKV_ERROR_STATE, "a v6 state in a v7 session");
    {
        char* missing = path_of(tmp_dir, "rwkv-c-api-test-missing.state");
        expect_error(rwkv_state_load(b, missing), RWKV_ERROR_IO, "loading a missing state file");
        free(missing);
    }
    CHECK(same_state(a, b), "a failed load changed the state");
    (void)other_logits;

done:
    remove(file);
    free(file);
    free(bytes);
    free(batch_logits);
    free(single);
    free(other_logits);
    for (g = 0; g < B; ++g) {
        rwkv_state_free(batched[g]);
        rwkv_state_free(alone[g]);
    }
    rwkv_state_free(a);
    rwkv_state_free(b);
    rwkv_state_free(foreign);
    rwkv_session_free(session);
    rwkv_model_free(m);
    rwkv_model_free(other);
}

/* ---- tokenizers and sampling ----------------------------------------------------------------------- */

static void round_trip(const rwkv_tokenizer* tok, const char* text, const char* what) {
    size_t n = 0, bytes = 0, len = strlen(text);
    int32_t* ids;
    char* back;
    expect_error(rwkv_tokenize(tok, text, len, NULL, 0, &n), RWKV_ERROR_BUFFER_TOO_SMALL, "measuring a tokenization");
    ids = malloc((n ? n : 1) * sizeof(int32_t));
    back = malloc(len + 1);
    if (!ids || !back) abort();
    OK_OR(rwkv_tokenize(tok, text, len, ids, n, &n), goto done);
    CHECK(n > 0 && n <= len, "%s: %zu tokens for %zu bytes", what, n, len);
    expect_error(rwkv_detokenize(tok, ids, n, back, len - 1, &bytes), RWKV_ERROR_BUFFER_TOO_SMALL, "short text buffer");
    CHECK(bytes == len, "%s: detokenize needs %zu bytes, expected %zu", what, bytes, len);
    OK_OR(rwkv_detokenize(tok, ids, n, back, len + 1, &bytes), goto done);
    CHECK(bytes == len && memcmp(back, text, len) == 0 && back[len] == '\0', "%s: round trip differs", what);
done:
    free(ids);
    free(back);
}

static void tokenizers(const char* golden, const char* shared) {
    rwkv_model* m = load(golden, "v7-c128-l2.safetensors", RWKV_PRECISION_F32);
    rwkv_tokenizer *bytes = NULL, *world = NULL;
    char* vocab = path_of(shared, "data/rwkv_vocab_v20230424.txt");
    FILE* f;
    const char* piece = NULL;
    size_t piece_len = 0;

    if (!m) goto done;
    OK_OR(rwkv_tokenizer_for_model(m, &bytes), goto done);
    CHECK(rwkv_tokenizer_vocab_size(bytes) == 256 && rwkv_tokenizer_end_of_text(bytes) == -1, "byte tokenizer");
    round_trip(bytes, "Hello, w\xc3\xb6rld!\n", "bytes");
    OK_OR(rwkv_token_bytes(bytes, 'A', &piece, &piece_len), goto done);
    CHECK(piece_len == 1 && piece[0] == 'A', "token_bytes('A')");
    expect_error(rwkv_token_bytes(bytes, 256, &piece, &piece_len), RWKV_ERROR_INVALID_ARGUMENT, "token_bytes(256)");

    f = fopen(vocab, "rb");
    if (!f) {
        printf("World vocabulary not found (%s): World round trip skipped\n", vocab);
        goto done;
    }
    fclose(f);
    OK_OR(rwkv_tokenizer_load(vocab, &world), goto done);
    CHECK(rwkv_tokenizer_vocab_size(world) >= 65000 && rwkv_tokenizer_end_of_text(world) == 0, "World tokenizer");
    round_trip(world, "User: How are you?\n\nAssistant: \xe4\xbd\xa0\xe5\xa5\xbd, fine \xf0\x9f\x98\x80", "World");
    {
        int32_t bad = 70000;
        char out[8];
        size_t n = 0;
        expect_error(rwkv_detokenize(world, &bad, 1, out, sizeof out, &n), RWKV_ERROR_INVALID_ARGUMENT,
                     "detokenize a bad id");
    }

done:
    free(vocab);
    rwkv_tokenizer_free(bytes);
    rwkv_tokenizer_free(world);
    rwkv_model_free(m);
}

/* Generates n tokens after a fixed prompt with a fresh state and a sampler seeded `seed`. */
static void generate(const rwkv_model* m, rwkv_session* session, uint64_t seed, float temperature, int32_t* out,
                     size_t n) {
    const size_t V = rwkv_get_logits_len(m);
    const int32_t prompt[4] = {10, 20, 30, 40};
    rwkv_sampler_options o;
    rwkv_sampler* sampler = NULL;
    rwkv_state* s = NULL;
    float* logits = malloc(V * sizeof(float));
    size_t i;
    if (!logits) abort();
    memset(out, 0xff, n * sizeof(int32_t));
    rwkv_sampler_options_init(&o);
    o.temperature = temperature;
    o.top_p = 0.9f;
    o.top_k = 50;
    o.presence_penalty = 0.2f;
    o.frequency_penalty = 0.2f;
    o.penalty_decay = 0.996f;
    o.seed = seed;
    OK_OR(rwkv_sampler_new(&o, V, &sampler), goto done);
    OK_OR(rwkv_state_new(m, &s), goto done);
    OK_OR(rwkv_eval_sequence(session, s, prompt, 4, logits, V), goto done);
    for (i = 0; i < n; ++i) {
        OK_OR(rwkv_sample(sampler, logits, V, &out[i]), goto done);
        OK_OR(rwkv_sampler_accept(sampler, out[i]), goto done);
        OK_OR(rwkv_eval(session, s, out[i], logits, V), goto done);
    }
done:
    free(logits);
    rwkv_sampler_free(sampler);
    rwkv_state_free(s);
}

static void sampling(const char* golden) {
    enum { N = 24 };
    rwkv_model* m = load(golden, "v7-c128-l2.safetensors", RWKV_PRECISION_F32);
    rwkv_session* session = NULL;
    int32_t first[N], second[N], greedy[N], greedy_again[N];
    rwkv_sampler* sampler = NULL;
    float logits[4] = {0.0f, 3.0f, 3.0f, -1.0f};
    int32_t token = -1;
    size_t i;
    int in_range = 1;

    if (!m) goto done;
    OK_OR(rwkv_session_new(m, 0, &session), goto done);
    generate(m, session, 1234, 0.9f, first, N);
    generate(m, session, 1234, 0.9f, second, N);
    CHECK(memcmp(first, second, sizeof first) == 0, "the same seed gave different tokens");
    for (i = 0; i < N; ++i) in_range = in_range && first[i] >= 0 && (size_t)first[i] < rwkv_get_logits_len(m);
    CHECK(in_range, "sampled tokens out of range");
    generate(m, session, 1, 0.0f, greedy, N);
    generate(m, session, 2, 0.0f, greedy_again, N);
    CHECK(memcmp(greedy, greedy_again, sizeof greedy) == 0, "greedy decoding depends on the seed");

    /* Greedy: the arg max, the lowest id on ties. */
    {
        rwkv_sampler_options o;
        rwkv_sampler_options_init(&o);
        o.temperature = 0.0f;
        OK_OR(rwkv_sampler_new(&o, 4, &sampler), goto done);
        OK_OR(rwkv_sample(sampler, logits, 4, &token), goto done);
        CHECK(token == 1, "greedy picked %d", (int)token);
        OK_OR(rwkv_sampler_reset(sampler), goto done);
    }
    printf("sampling: seed 1234 gives");
    for (i = 0; i < 8; ++i) printf(" %d", (int)first[i]);
    printf(" ...\n");
done:
    rwkv_sampler_free(sampler);
    rwkv_session_free(session);
    rwkv_model_free(m);
}

/* ---- error paths -------------------------------------------------------------------------------------- */

static void errors(const char* golden) {
    rwkv_model* m = load(golden, "v7-c128-l2.safetensors", RWKV_PRECISION_INT8);
    rwkv_model* none = (rwkv_model*)1;
    rwkv_session *session = NULL, *small = NULL;
    rwkv_state *s = NULL, *t = NULL, *none_state = (rwkv_state*)1;
    rwkv_sampler* sampler = NULL;
    rwkv_model_options o;
    rwkv_model_info info;
    float *logits = NULL, *raw = NULL;
    unsigned char* before = NULL;
    size_t V, L, size = 0, n = 0;
    int32_t two[2] = {1, 2}, token = 0;
    rwkv_state* states[3];
    char* missing = path_of(golden, "no-such-model.safetensors");
    char* not_a_model = path_of(golden, "v7-c128-l2.tokens.json");

    /* Loading. */
    expect_error(rwkv_model_load(NULL, NULL, &none), RWKV_ERROR_INVALID_ARGUMENT, "load(NULL path)");
    CHECK(none == NULL, "a failed load leaves *out NULL");
    expect_error(rwkv_model_load(missing, NULL, NULL), RWKV_ERROR_INVALID_ARGUMENT, "load(out NULL)");
    expect_error(rwkv_model_load(missing, NULL, &none), RWKV_ERROR_IO, "load(missing file)");
    CHECK(strstr(rwkv_last_error(), "no-such-model") != NULL, "the message names the file: %s", rwkv_last_error());
    expect_error(rwkv_model_load(not_a_model, NULL, &none), RWKV_ERROR_FORMAT, "load(a JSON file)");
    rwkv_model_options_init(&o);
    o.precision = (rwkv_precision)42;
    expect_error(rwkv_model_load(missing, &o, &none), RWKV_ERROR_INVALID_ARGUMENT, "load(bad precision)");
    rwkv_model_options_init(&o);
    o.backend = (rwkv_backend)7;
    expect_error(rwkv_model_load(missing, &o, &none), RWKV_ERROR_INVALID_ARGUMENT, "load(bad backend)");

    /* NULL handles everywhere. */
    expect_error(rwkv_model_get_info(NULL, &info), RWKV_ERROR_INVALID_ARGUMENT, "info(NULL)");
    CHECK(rwkv_get_state_len(NULL) == 0 && rwkv_get_logits_len(NULL) == 0, "lengths of NULL");
    expect_error(rwkv_state_new(NULL, &s), RWKV_ERROR_INVALID_ARGUMENT, "state_new(NULL)");
    expect_error(rwkv_session_new(NULL, 0, &session), RWKV_ERROR_INVALID_ARGUMENT, "session_new(NULL)");
    expect_error(rwkv_eval(NULL, NULL, 1, NULL, 0), RWKV_ERROR_INVALID_ARGUMENT, "eval(NULL session)");
    expect_error(rwkv_eval_sequence(NULL, NULL, two, 2, NULL, 0), RWKV_ERROR_INVALID_ARGUMENT, "eval_sequence(NULL)");
    expect_error(rwkv_eval_batch(NULL, states, two, 2, NULL, 0), RWKV_ERROR_INVALID_ARGUMENT, "eval_batch(NULL)");
    expect_error(rwkv_state_clone(NULL, &none_state), RWKV_ERROR_INVALID_ARGUMENT, "clone(NULL)");
    CHECK(none_state == NULL, "a failed clone leaves *out NULL");
    expect_error(rwkv_state_size(NULL, &size), RWKV_ERROR_INVALID_ARGUMENT, "state_size(NULL)");
    expect_error(rwkv_state_save(NULL, "x"), RWKV_ERROR_INVALID_ARGUMENT, "state_save(NULL)");
    expect_error(rwkv_tokenize(NULL, "a", 1, &token, 1, &n), RWKV_ERROR_INVALID_ARGUMENT, "tokenize(NULL)");
    expect_error(rwkv_sample(NULL, logits, 1, &token), RWKV_ERROR_INVALID_ARGUMENT, "sample(NULL)");
    expect_error(rwkv_tokenizer_load(NULL, NULL), RWKV_ERROR_INVALID_ARGUMENT, "tokenizer_load(NULL)");
    CHECK(rwkv_session_state(NULL) == NULL, "session_state(NULL)");
    rwkv_model_free(NULL);
    rwkv_state_free(NULL);
    rwkv_session_free(NULL);
    rwkv_tokenizer_free(NULL);
    rwkv_sampler_free(NULL);

    if (!m) goto done;
    OK_OR(rwkv_model_get_info(m, &info), goto done);
    CHECK(rwkv_last_error()[0] == '\0', "a successful call leaves no message");
    CHECK(strcmp(info.precision, "int8") == 0 && strcmp(info.architecture, "rwkv7") == 0, "info: %s %s",
          info.precision, info.architecture);
    V = rwkv_get_logits_len(m);
    L = rwkv_get_state_len(m);
    logits = malloc(3 * V * sizeof(float));
    raw = malloc(L * sizeof(float));
    if (!logits || !raw) abort();
    OK_OR(rwkv_session_new(m, 2, &session), goto done);
    OK_OR(rwkv_state_new(m, &s), goto done);
    OK_OR(rwkv_state_new(m, &t), goto done);
    OK_OR(rwkv_eval_sequence(session, s, two, 2, NULL, 0), goto done);
    before = state_bytes(s, &size);

    /* Bad sizes and ids: refused before anything runs, the state untouched. */
    expect_error(rwkv_eval(session, s, 256, logits, V), RWKV_ERROR_INVALID_ARGUMENT, "eval(token = vocab)");
    expect_error(rwkv_eval(session, s, -1, logits, V), RWKV_ERROR_INVALID_ARGUMENT, "eval(token -1)");
    expect_error(rwkv_eval(session, s, 1, logits, V - 1), RWKV_ERROR_INVALID_ARGUMENT, "eval(short logits)");
    expect_error(rwkv_eval(session, s, 1, NULL, V), RWKV_ERROR_INVALID_ARGUMENT, "eval(NULL logits, length V)");
    expect_error(rwkv_eval_sequence(session, s, NULL, 2, logits, V), RWKV_ERROR_INVALID_ARGUMENT, "seq(NULL tokens)");
    expect_error(rwkv_eval_sequence(session, s, two, 0, logits, V), RWKV_ERROR_INVALID_ARGUMENT, "seq(0 tokens)");
    {
        int32_t bad[3] = {1, 2, 999};
        expect_error(rwkv_eval_sequence(session, s, bad, 3, logits, V), RWKV_ERROR_INVALID_ARGUMENT, "seq(bad id)");
        CHECK(strstr(rwkv_last_error(), "999") != NULL, "the message names the id: %s", rwkv_last_error());
    }
    states[0] = s;
    states[1] = t;
    states[2] = s;
    expect_error(rwkv_eval_batch(session, states, two, 2, logits, V), RWKV_ERROR_INVALID_ARGUMENT, "batch(short logits)");
    expect_error(rwkv_eval_batch(session, states, two, 3, logits, 3 * V), RWKV_ERROR_INVALID_ARGUMENT,
                 "batch(more states than max_tokens)");
    states[1] = s;
    expect_error(rwkv_eval_batch(session, states, two, 2, logits, 2 * V), RWKV_ERROR_INVALID_ARGUMENT,
                 "batch(one state twice)");
    states[1] = NULL;
    expect_error(rwkv_eval_batch(session, states, two, 2, logits, 2 * V), RWKV_ERROR_INVALID_ARGUMENT,
                 "batch(NULL state)");
    expect_error(rwkv_eval_raw(session, 1, NULL, raw, L - 1, logits, V), RWKV_ERROR_INVALID_ARGUMENT, "raw(state_len)");
    expect_error(rwkv_eval_raw(session, 1, NULL, NULL, L, logits, V), RWKV_ERROR_INVALID_ARGUMENT, "raw(NULL out)");
    expect_error(rwkv_init_state(m, raw, L + 1), RWKV_ERROR_INVALID_ARGUMENT, "init_state(state_len)");
    expect_error(rwkv_state_set(s, raw, L * 4 - 1), RWKV_ERROR_INVALID_ARGUMENT, "state_set(short)");
    expect_error(rwkv_state_set(s, raw, L * 4 + 4), RWKV_ERROR_INVALID_ARGUMENT, "state_set(long)");
    expect_error(rwkv_state_set(s, NULL, L * 4), RWKV_ERROR_INVALID_ARGUMENT, "state_set(NULL)");
    expect_error(rwkv_state_get(s, raw, L * 4 - 1, &n), RWKV_ERROR_BUFFER_TOO_SMALL, "state_get(short)");
    CHECK(n == L * 4, "state_get reports the size needed (%zu)", n);
    expect_error(rwkv_state_save(s, "/nonexistent-dir/x.state"), RWKV_ERROR_IO, "state_save(bad dir)");
    expect_error(rwkv_state_load(s, not_a_model), RWKV_ERROR_STATE, "state_load(not a state file)");
    {
        unsigned char* after = NULL;
        size_t after_size = 0;
        after = state_bytes(s, &after_size);
        CHECK(before && after && after_size == size && memcmp(before, after, size) == 0,
              "failed calls changed the state");
        free(after);
    }
    expect_error(rwkv_session_new(m, 0, NULL), RWKV_ERROR_INVALID_ARGUMENT, "session_new(out NULL)");

    /* Sampler arguments. */
    expect_error(rwkv_sampler_new(NULL, 0, &sampler), RWKV_ERROR_INVALID_ARGUMENT, "sampler(vocab 0)");
    {
        rwkv_sampler_options so;
        rwkv_sampler_options_init(&so);
        so.top_p = 1.5f;
        expect_error(rwkv_sampler_new(&so, V, &sampler), RWKV_ERROR_INVALID_ARGUMENT, "sampler(top_p 1.5)");
        CHECK(strstr(rwkv_last_error(), "top_p") != NULL, "the message names top_p: %s", rwkv_last_error());
    }
    OK_OR(rwkv_sampler_new(NULL, V, &sampler), goto done);
    expect_error(rwkv_sample(sampler, logits, V - 1, &token), RWKV_ERROR_INVALID_ARGUMENT, "sample(short logits)");
    expect_error(rwkv_sample(sampler, NULL, V, &token), RWKV_ERROR_INVALID_ARGUMENT, "sample(NULL logits)");
    expect_error(rwkv_sampler_accept(sampler, (int32_t)V), RWKV_ERROR_INVALID_ARGUMENT, "accept(bad id)");
    CHECK(strcmp(rwkv_status_name(RWKV_ERROR_IO), "RWKV_ERROR_IO") == 0, "status names");
    CHECK(rwkv_version()[0] != '\0', "version");

done:
    free(missing);
    free(not_a_model);
    free(logits);
    free(raw);
    free(before);
    rwkv_sampler_free(sampler);
    rwkv_state_free(s);
    rwkv_state_free(t);
    rwkv_session_free(session);
    rwkv_session_free(small);
    rwkv_model_free(m);
}

int main(void) {
    const char* shared = RWKV_TEST_SHARED_DIR;
    const char* tmp = getenv("TMPDIR");
    char* golden = path_of(shared, "golden");
    char* probe = path_of(golden, "v7-c128-l2.safetensors");
    FILE* f = fopen(probe, "rb");
    free(probe);
    if (!f) {
        printf("SKIP: the shared goldens are not at %s (../shared/golden)\n", golden);
        free(golden);
        return 0;
    }
    fclose(f);

    golden_logits(golden, "v4-c128-l2");
    golden_logits(golden, "v5-c128-l2");
    golden_logits(golden, "v6-c128-l2");
    golden_logits(golden, "v7-c128-l2");
    golden_goldfinch(golden);
    batch_and_states(golden, tmp && tmp[0] ? tmp : "/tmp");
    tokenizers(golden, shared);
    sampling(golden);
    errors(golden);
    free(golden);

    printf("max |logits - golden|: RNN %.3g, sequence %.3g, raw buffers %.3g, GoldFinch %.3g; final state %.3g\n",
           worst_rnn, worst_seq, worst_raw, worst_goldfinch, worst_state);
    if (failures) {
        printf("%d check(s) FAILED\n", failures);
        return 1;
    }
    printf("all C API checks passed\n");
    return 0;
}
