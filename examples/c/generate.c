/* Text generation through the C API (include/rwkv/rwkv.h): load, prefill a prompt, sample, stream.
 *
 *   rwkv-example-generate-c MODEL PROMPT [N] [VOCAB]
 *
 * MODEL is any checkpoint the library reads; VOCAB is the World vocabulary file for World models
 * (byte-level models such as examples/models/fortune-v7-c128-l2.safetensors need none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rwkv/rwkv.h"

/* Prints the failed call's message and stops. */
static void check(rwkv_status status, const char* what) {
    if (status == RWKV_OK) return;
    fprintf(stderr, "%s: %s: %s\n", what, rwkv_status_name(status), rwkv_last_error());
    exit(1);
}

int main(int argc, char** argv) {
    rwkv_model_options options;
    rwkv_model* model = NULL;
    rwkv_session* session = NULL;
    rwkv_tokenizer* tokenizer = NULL;
    rwkv_sampler_options sampling;
    rwkv_sampler* sampler = NULL;
    int32_t* prompt;
    float* logits;
    size_t n_prompt = 0, n_vocab, i;
    long n = 64;
    rwkv_status status;

    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL PROMPT [N] [VOCAB]\n", argv[0]);
        return 2;
    }
    if (argc > 3) n = strtol(argv[3], NULL, 10);

    rwkv_model_options_init(&options);
    options.n_threads = 2; /* the caller decides; 0 = every core */
    check(rwkv_model_load(argv[1], &options, &model), "load");
    if (argc > 4)
        check(rwkv_tokenizer_load(argv[4], &tokenizer), "tokenizer");
    else
        check(rwkv_tokenizer_for_model(model, &tokenizer), "tokenizer");

    /* Measure (a buffer of 0 tokens is too small, and the count needed comes back), then encode. */
    status = rwkv_tokenize(tokenizer, argv[2], strlen(argv[2]), NULL, 0, &n_prompt);
    if (status != RWKV_ERROR_BUFFER_TOO_SMALL) check(status, "tokenize");
    if (n_prompt == 0) {
        fprintf(stderr, "the prompt is empty\n");
        return 2;
    }
    prompt = malloc(n_prompt * sizeof(int32_t));
    n_vocab = rwkv_get_logits_len(model);
    logits = malloc(n_vocab * sizeof(float));
    if (!prompt || !logits) return 1;
    check(rwkv_tokenize(tokenizer, argv[2], strlen(argv[2]), prompt, n_prompt, &n_prompt), "tokenize");

    /* One session per thread; its own state holds the conversation (state argument NULL). */
    check(rwkv_session_new(model, 0, &session), "session");
    rwkv_sampler_options_init(&sampling);
    sampling.temperature = 1.0f;
    sampling.top_p = 0.9f;
    sampling.seed = 42;
    check(rwkv_sampler_new(&sampling, n_vocab, &sampler), "sampler");

    check(rwkv_eval_sequence(session, NULL, prompt, n_prompt, logits, n_vocab), "prefill");
    fputs(argv[2], stdout);
    for (i = 0; i < (size_t)(n > 0 ? n : 0); ++i) {
        int32_t token;
        const char* bytes;
        size_t n_bytes;
        check(rwkv_sample(sampler, logits, n_vocab, &token), "sample");
        check(rwkv_sampler_accept(sampler, token), "accept");
        if (token == rwkv_tokenizer_end_of_text(tokenizer)) break;
        check(rwkv_token_bytes(tokenizer, token, &bytes, &n_bytes), "token bytes");
        fwrite(bytes, 1, n_bytes, stdout); /* may end mid-character: the next token completes it */
        fflush(stdout);
        check(rwkv_eval(session, NULL, token, logits, n_vocab), "eval");
    }
    putchar('\n');

    rwkv_sampler_free(sampler);
    rwkv_session_free(session);
    rwkv_tokenizer_free(tokenizer);
    rwkv_model_free(model);
    free(prompt);
    free(logits);
    return 0;
}
