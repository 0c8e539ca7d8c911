/* Two CPU devices of one process swap a buffer: each gets the other's, as an XLA FFI handler.
 *
 * XLA:CPU's own collectives (all-gather, psum, ppermute) cost 40-100 us each between the two
 * single-threaded devices of this process, more than the ~50 us of work they would split in a
 * small network's gradient step (docs/optimisation.md). Both devices here are threads of one
 * process that run their programs at the same time, so a swap needs no more than two
 * publish-then-wait barriers on shared memory: each device publishes a pointer to its input,
 * waits for the other's, copies it, and then waits until the other has copied its own input
 * (XLA may reuse the input's memory once this call returns).
 *
 * Operands: the buffer (any shape and type, the same on both devices) and this device's
 * index (int32, 0 or 1: the mesh axis index). Result: the other device's buffer. The two
 * devices must make the same sequence of calls; one pair of devices swaps at a time in a
 * process. A partner that does not arrive within TIMEOUT_SECONDS is an error, not a hang.
 * Written against XLA's C FFI API (xla/ffi/api/c_api.h, shipped with jaxlib).
 */
#define _POSIX_C_SOURCE 200809L
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ffi_handler.h"

#define TIMEOUT_SECONDS 600.0
#define SPINS_BEFORE_YIELD 65536

/* Per device: the round it last published (with its pointer and size) and the last round in
 * which it finished copying the other's buffer. Rounds count every swap since the process
 * started, so they match across programs as long as both devices make the same calls. */
static struct {
    _Atomic uint64_t published[2];
    _Atomic uint64_t copied[2];
    const void *_Atomic data[2];
    _Atomic int64_t bytes[2];
} channel;

static double seconds_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Spin (then yield) until the other device's `*counter` reaches `round`: 0 on success, -1
 * after the timeout, -2 if it is not one round behind or level (the devices lost step: a
 * program ran on one of them only). */
static int wait_for(_Atomic uint64_t *counter, uint64_t round) {
    uint64_t spins = 0, seen;
    double start = 0.0;
    while ((seen = atomic_load_explicit(counter, memory_order_acquire)) < round) {
        if (seen + 1 < round) return -2;
        if (++spins < SPINS_BEFORE_YIELD) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
            continue;
        }
        sched_yield();
        if ((spins & 1023) == 0) {
            double now = seconds_now();
            if (start == 0.0) start = now;
            else if (now - start > TIMEOUT_SECONDS) return -1;
        }
    }
    return seen == round ? 0 : -2;
}

static XLA_FFI_Error *error(const XLA_FFI_Api *api, const char *message) {
    XLA_FFI_Error_Create_Args args;
    memset(&args, 0, sizeof(args));
    args.struct_size = XLA_FFI_Error_Create_Args_STRUCT_SIZE;
    args.message = message;
    args.errc = XLA_FFI_Error_Code_INTERNAL;
    return api->XLA_FFI_Error_Create(&args);
}

static int64_t byte_size(const XLA_FFI_Buffer *buffer) {
    int64_t n = 1;
    for (int64_t d = 0; d < buffer->rank; d++) n *= buffer->dims[d];
    switch (buffer->dtype) {
        case XLA_FFI_DataType_PRED: case XLA_FFI_DataType_S8: case XLA_FFI_DataType_U8: return n;
        case XLA_FFI_DataType_S16: case XLA_FFI_DataType_U16: case XLA_FFI_DataType_F16:
        case XLA_FFI_DataType_BF16: return 2 * n;
        case XLA_FFI_DataType_S64: case XLA_FFI_DataType_U64: case XLA_FFI_DataType_F64: return 8 * n;
        default: return 4 * n;
    }
}

XLA_FFI_Error *jaxrl_exchange(XLA_FFI_CallFrame *frame) {
    if (jaxrl_ffi_not_execution(frame)) return NULL;
    XLA_FFI_Buffer *const *in = (XLA_FFI_Buffer *const *)frame->args.args;
    XLA_FFI_Buffer *const *out = (XLA_FFI_Buffer *const *)frame->rets.rets;
    const int32_t device = *(const int32_t *)in[1]->data;
    if (device != 0 && device != 1)
        return error(frame->api, "jaxrl exchange: the device index must be 0 or 1 (two devices)");
    const int other = 1 - device;
    const int64_t bytes = byte_size(in[0]);

    const uint64_t round = atomic_load_explicit(&channel.published[device], memory_order_relaxed) + 1;
    atomic_store_explicit(&channel.data[device], in[0]->data, memory_order_relaxed);
    atomic_store_explicit(&channel.bytes[device], bytes, memory_order_relaxed);
    atomic_store_explicit(&channel.published[device], round, memory_order_release);
    int waited = wait_for(&channel.published[other], round);
    if (waited == -2)
        return error(frame->api, "jaxrl exchange: the two devices are at different swaps (a "
                                 "program ran on one of them only); restart the process");
    if (waited != 0)
        return error(frame->api, "jaxrl exchange: the other device did not reach the same swap "
                                 "within 600 s (the two devices must run one program together)");
    if (atomic_load_explicit(&channel.bytes[other], memory_order_relaxed) != bytes) {
        atomic_store_explicit(&channel.copied[device], round, memory_order_release);
        return error(frame->api, "jaxrl exchange: the two devices swapped buffers of different sizes");
    }
    memcpy(out[0]->data, atomic_load_explicit(&channel.data[other], memory_order_relaxed), (size_t)bytes);
    atomic_store_explicit(&channel.copied[device], round, memory_order_release);
    if (wait_for(&channel.copied[other], round) != 0)
        return error(frame->api, "jaxrl exchange: the other device stopped inside a swap");
    return NULL;
}
