/* fc_tables.c — fastchunk.h's X-macro tables as data: the named constants, the error names
 * and messages, the row struct's fields. _native reads these to export (and check) what the
 * compiled header says. */
#include "fastchunk.h"

#define CONSTANT(name, value) {#name, (value)},
const fc_constant_t fc_constants[] = {FC_NAMED_CONSTANTS(CONSTANT)};
const int fc_nconstants = sizeof fc_constants / sizeof fc_constants[0];

#define ERROR_NAME(name, code, message) {#name, (code)},
const fc_error_name_t fc_errors[] = {FC_ERRORS(ERROR_NAME)};
const int fc_nerrors = sizeof fc_errors / sizeof fc_errors[0];

/* (type)-1 is positive only in an unsigned type (written so, not as < 0, to keep gcc quiet) */
#define FIELD(type, name) {#name, offsetof(fc_row_t, name), sizeof(type), !((type)-1 > 0)},
const fc_field_t fc_row_fields[] = {FC_ROW_FIELDS(FIELD)};
const int fc_nrow_fields = sizeof fc_row_fields / sizeof fc_row_fields[0];

const char *fc_strerror(int code)
{
#define MESSAGE(name, code, message) case code: return message;
    switch (code) {
    case FC_OK: return "ok";
    FC_ERRORS(MESSAGE)
    default: return "unknown error";
    }
#undef MESSAGE
}
