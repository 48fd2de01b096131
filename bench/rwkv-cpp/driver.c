// rwkv-streams benchmark driver for rwkv.cpp, written against rwkv.cpp's public C API
// (rwkv.h) only. Built by bench/src/rwkv-cpp/build.ts:
//
//   cc -O2 -std=c11 -I RWKV_CPP_SRC driver.c -L BUILD -lrwkv -Wl,-rpath,BUILD -o rwkv-streams-driver
//
// Commands (results as one JSON object on stdout; errors on stderr, exit status 1):
//
//   rwkv-streams-driver quantize IN.bin OUT.bin FORMAT     (FORMAT: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0)
//   rwkv-streams-driver bench --model FILE [--threads N] [--decode 64] [--warmup 4]
//                             [--prefill 512] [--chunk 16] [--repeat 2]
//                             [--prompt 1,2,3 --logits-out FILE [--logits-seq-out FILE]]
//
// bench: decode = one rwkv_eval per token with the state carried in one buffer and the
// logits computed every step (after `warmup` untimed steps); prefill = `prefill` tokens
// through rwkv_eval_sequence_in_chunks with chunks of `chunk` tokens from a fresh state
// (after one untimed chunk that builds and caches the sequence graph), best of `repeat`.
// Tokens are (i * 7919) % n_vocab, as in bench/src/main.ts. --prompt evaluates the given
// tokens from a fresh state one at a time (rwkv_eval) and writes the logits after the
// last one as raw little-endian float32 to --logits-out; --logits-seq-out does the same
// through rwkv_eval_sequence_in_chunks (the prefill path).
#define _POSIX_C_SOURCE 199309L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rwkv.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void die(const char * what) {
    fprintf(stderr, "rwkv-streams-driver: %s\n", what);
    exit(1);
}

static void die_rwkv(struct rwkv_context * ctx, const char * what) {
    fprintf(stderr, "rwkv-streams-driver: %s failed (rwkv error flags 0x%x)\n", what, (unsigned) rwkv_get_last_error(ctx));
    exit(1);
}

static long parse_long(const char * s, const char * flag) {
    char * end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0) {
        fprintf(stderr, "rwkv-streams-driver: %s needs a non-negative integer, got '%s'\n", flag, s);
        exit(1);
    }
    return v;
}

// Parses "1,2,3" into a newly allocated array; returns its length.
static size_t parse_tokens(const char * s, uint32_t ** out) {
    size_t cap = 16, n = 0;
    uint32_t * t = malloc(cap * sizeof(uint32_t));
    if (!t) die("out of memory");
    const char * p = s;
    while (*p) {
        char * end = NULL;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (errno != 0 || end == p) die("--prompt must be comma-separated token ids");
        if (n == cap) {
            cap *= 2;
            t = realloc(t, cap * sizeof(uint32_t));
            if (!t) die("out of memory");
        }
        t[n++] = (uint32_t) v;
        p = end;
        if (*p == ',') p++;
        else if (*p != '\0') die("--prompt must be comma-separated token ids");
    }
    if (n == 0) die("--prompt is empty");
    *out = t;
    return n;
}

static void write_floats(const char * path, const float * data, size_t n) {
    FILE * f = fopen(path, "wb");
    if (!f) die("cannot open a logits file for writing");
    if (fwrite(data, sizeof(float), n, f) != n) die("cannot write a logits file");
    if (fclose(f) != 0) die("cannot close a logits file");
}

static void json_string(const char * s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int cmd_quantize(int argc, char ** argv) {
    if (argc != 5) die("usage: quantize IN.bin OUT.bin FORMAT");
    rwkv_set_print_errors(NULL, true);
    double t0 = now_s();
    if (!rwkv_quantize_model_file(argv[2], argv[3], argv[4])) die_rwkv(NULL, "rwkv_quantize_model_file");
    printf("{\"quantized\":");
    json_string(argv[3]);
    printf(",\"format\":");
    json_string(argv[4]);
    printf(",\"seconds\":%.3f}\n", now_s() - t0);
    return 0;
}

static int cmd_bench(int argc, char ** argv) {
    const char * model = NULL;
    const char * prompt = NULL;
    const char * logits_out = NULL;
    const char * logits_seq_out = NULL;
    long threads = 1, decode = 64, warmup = 4, prefill = 512, chunk = 16, repeat = 2;
    for (int i = 2; i < argc; i++) {
        const char * a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "rwkv-streams-driver: %s needs a value\n", a);
            return 1;
        }
        const char * v = argv[++i];
        if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--threads")) threads = parse_long(v, a);
        else if (!strcmp(a, "--decode")) decode = parse_long(v, a);
        else if (!strcmp(a, "--warmup")) warmup = parse_long(v, a);
        else if (!strcmp(a, "--prefill")) prefill = parse_long(v, a);
        else if (!strcmp(a, "--chunk")) chunk = parse_long(v, a);
        else if (!strcmp(a, "--repeat")) repeat = parse_long(v, a);
        else if (!strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "--logits-out")) logits_out = v;
        else if (!strcmp(a, "--logits-seq-out")) logits_seq_out = v;
        else {
            fprintf(stderr, "rwkv-streams-driver: unknown option %s\n", a);
            return 1;
        }
    }
    if (!model) die("bench needs --model FILE");
    if (threads < 1 || chunk < 1 || repeat < 1) die("--threads, --chunk and --repeat must be positive");
    if ((logits_out || logits_seq_out) && !prompt) die("--logits-out needs --prompt");

    rwkv_set_print_errors(NULL, true);
    double t0 = now_s();
    struct rwkv_context * ctx = rwkv_init_from_file(model, (uint32_t) threads, 0);
    if (!ctx) die_rwkv(NULL, "rwkv_init_from_file");
    const double load_s = now_s() - t0;

    const size_t n_vocab = rwkv_get_n_vocab(ctx);
    const size_t state_len = rwkv_get_state_len(ctx);
    const size_t logits_len = rwkv_get_logits_len(ctx);
    float * state = malloc(state_len * sizeof(float));
    float * logits = malloc(logits_len * sizeof(float));
    size_t n_tok = (size_t) (prefill > decode + warmup ? prefill : decode + warmup);
    if (n_tok < (size_t) chunk) n_tok = (size_t) chunk;
    uint32_t * tokens = malloc(n_tok * sizeof(uint32_t));
    if (!state || !logits || !tokens) die("out of memory");
    for (size_t i = 0; i < n_tok; i++) tokens[i] = (uint32_t) ((i * 7919) % n_vocab);

    // Logits after a fixed prompt (sanity: same model as ours).
    if (prompt) {
        uint32_t * p = NULL;
        size_t n = parse_tokens(prompt, &p);
        for (size_t i = 0; i < n; i++) {
            if (p[i] >= n_vocab) die("a --prompt token is outside the vocabulary");
            if (!rwkv_eval(ctx, p[i], i == 0 ? NULL : state, state, logits)) die_rwkv(ctx, "rwkv_eval");
        }
        if (logits_out) write_floats(logits_out, logits, logits_len);
        if (logits_seq_out) {
            if (!rwkv_eval_sequence_in_chunks(ctx, p, n, (size_t) chunk, NULL, state, logits))
                die_rwkv(ctx, "rwkv_eval_sequence_in_chunks");
            write_floats(logits_seq_out, logits, logits_len);
        }
        free(p);
    }

    // Decode.
    double decode_s = 0;
    if (decode > 0) {
        for (long i = 0; i < warmup; i++) {
            if (!rwkv_eval(ctx, tokens[i], i == 0 ? NULL : state, state, logits)) die_rwkv(ctx, "rwkv_eval");
        }
        if (warmup == 0) rwkv_init_state(ctx, state);
        t0 = now_s();
        for (long i = 0; i < decode; i++) {
            if (!rwkv_eval(ctx, tokens[warmup + i], state, state, logits)) die_rwkv(ctx, "rwkv_eval");
        }
        decode_s = now_s() - t0;
    }

    // Prefill.
    double best = 0;
    double * runs = calloc((size_t) repeat, sizeof(double));
    if (!runs) die("out of memory");
    if (prefill > 0) {
        if (!rwkv_eval_sequence_in_chunks(ctx, tokens, (size_t) chunk, (size_t) chunk, NULL, state, logits))
            die_rwkv(ctx, "rwkv_eval_sequence_in_chunks");
        for (long r = 0; r < repeat; r++) {
            t0 = now_s();
            if (!rwkv_eval_sequence_in_chunks(ctx, tokens, (size_t) prefill, (size_t) chunk, NULL, state, logits))
                die_rwkv(ctx, "rwkv_eval_sequence_in_chunks");
            runs[r] = now_s() - t0;
            if (r == 0 || runs[r] < best) best = runs[r];
        }
    }

    printf("{\"model\":");
    json_string(model);
    printf(",\"threads\":%ld,\"n_vocab\":%zu,\"n_embed\":%zu,\"n_layer\":%zu,\"load_s\":%.3f", threads, n_vocab,
           rwkv_get_n_embed(ctx), rwkv_get_n_layer(ctx), load_s);
    printf(",\"decode\":{\"tokens\":%ld,\"warmup\":%ld,\"seconds\":%.6f,\"tokens_per_s\":%.3f}", decode, warmup,
           decode_s, decode > 0 && decode_s > 0 ? (double) decode / decode_s : 0.0);
    printf(",\"prefill\":{\"tokens\":%ld,\"chunk\":%ld,\"repeat\":%ld,\"seconds\":[", prefill, chunk, repeat);
    for (long r = 0; r < repeat; r++) printf("%s%.6f", r ? "," : "", prefill > 0 ? runs[r] : 0.0);
    printf("],\"best_seconds\":%.6f,\"tokens_per_s\":%.3f}", best,
           prefill > 0 && best > 0 ? (double) prefill / best : 0.0);
    printf(",\"system_info\":");
    json_string(rwkv_get_system_info_string());
    printf("}\n");

    free(runs);
    free(tokens);
    free(logits);
    free(state);
    rwkv_free(ctx);
    return 0;
}

int main(int argc, char ** argv) {
    if (argc >= 2 && !strcmp(argv[1], "quantize")) return cmd_quantize(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "bench")) return cmd_bench(argc, argv);
    fprintf(stderr,
            "usage: %s quantize IN.bin OUT.bin FORMAT\n"
            "       %s bench --model FILE [--threads N] [--decode 64] [--warmup 4] [--prefill 512]\n"
            "            [--chunk 16] [--repeat 2] [--prompt 1,2,3 --logits-out FILE [--logits-seq-out FILE]]\n",
            argv[0], argv[0]);
    return 2;
}
