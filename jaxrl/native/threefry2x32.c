/* Threefry-2x32 (20 rounds), the hash behind jax.random, as an XLA FFI handler for CPU.
 *
 * XLA:CPU compiles jax's own lowering of the hash (a rolled 5-iteration loop) in 0.3-0.5 s
 * per call site; a custom call to this function costs nothing to compile. Integer
 * arithmetic only: the outputs are bit for bit jax's (tests/test_native.py checks them).
 *
 * Operands: four uint32 buffers of one shape (key word 0, key word 1, count word 0, count
 * word 1), already broadcast by the lowering; results: the two hashed words, same shape.
 * Written against XLA's C FFI API (xla/ffi/api/c_api.h, shipped with jaxlib).
 */
#include <stddef.h>
#include <stdint.h>

#include "ffi_handler.h"

static inline uint32_t rotate_left(uint32_t v, uint32_t d) { return (v << d) | (v >> (32u - d)); }

#define MIX(r) do { a += b; b = rotate_left(b, r); b ^= a; } while (0)
#define ROUNDS_A MIX(13); MIX(15); MIX(26); MIX(6)
#define ROUNDS_B MIX(17); MIX(29); MIX(16); MIX(24)

static void threefry2x32(int64_t n, const uint32_t *key0, const uint32_t *key1,
                         const uint32_t *count0, const uint32_t *count1,
                         uint32_t *out0, uint32_t *out1) {
    for (int64_t i = 0; i < n; i++) {
        const uint32_t ks0 = key0[i], ks1 = key1[i], ks2 = ks0 ^ ks1 ^ 0x1BD11BDAu;
        uint32_t a = count0[i] + ks0, b = count1[i] + ks1;
        ROUNDS_A; a += ks1; b += ks2 + 1u;
        ROUNDS_B; a += ks2; b += ks0 + 2u;
        ROUNDS_A; a += ks0; b += ks1 + 3u;
        ROUNDS_B; a += ks1; b += ks2 + 4u;
        ROUNDS_A; a += ks2; b += ks0 + 5u;
        out0[i] = a;
        out1[i] = b;
    }
}

XLA_FFI_Error *jaxrl_threefry2x32(XLA_FFI_CallFrame *frame) {
    if (jaxrl_ffi_not_execution(frame)) return NULL;
    XLA_FFI_Buffer *const *in = (XLA_FFI_Buffer *const *)frame->args.args;
    XLA_FFI_Buffer *const *out = (XLA_FFI_Buffer *const *)frame->rets.rets;
    int64_t n = 1;
    for (int64_t d = 0; d < out[0]->rank; d++) n *= out[0]->dims[d];
    threefry2x32(n, in[0]->data, in[1]->data, in[2]->data, in[3]->data, out[0]->data, out[1]->data);
    return NULL;
}
