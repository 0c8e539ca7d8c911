/* The start every jaxrl FFI handler shares (XLA's C FFI API, xla/ffi/api/c_api.h). */
#ifndef JAXRL_FFI_HANDLER_H
#define JAXRL_FFI_HANDLER_H

#include <stddef.h>

#include "xla/ffi/api/c_api.h"

/* Nonzero when `frame` asks for no execution, and the handler should return NULL: XLA's first
 * call, with a metadata extension, learns the FFI version the handler was built against
 * (answered here); calls at other stages than EXECUTE have nothing to do. */
static inline int jaxrl_ffi_not_execution(XLA_FFI_CallFrame *frame) {
    if (frame->extension_start != NULL && frame->extension_start->type == XLA_FFI_Extension_Metadata) {
        XLA_FFI_Metadata *metadata = ((XLA_FFI_Metadata_Extension *)frame->extension_start)->metadata;
        metadata->api_version.struct_size = XLA_FFI_Api_Version_STRUCT_SIZE;
        metadata->api_version.extension_start = NULL;
        metadata->api_version.major_version = XLA_FFI_API_MAJOR;
        metadata->api_version.minor_version = XLA_FFI_API_MINOR;
        metadata->traits = 0;
        return 1;
    }
    return frame->stage != XLA_FFI_ExecutionStage_EXECUTE;
}

#endif
