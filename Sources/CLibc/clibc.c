// What the CLibc module needs beyond inline functions: the process arguments, and in the Embedded build the
// one runtime function of the standard library's that the Embedded stdlib leaves to the platform.
#define _GNU_SOURCE 1
#include "clibc.h"

static int saved_argc;
static char *const *saved_argv;

// glibc calls the functions of .init_array with (argc, argv, envp), for static and dynamic executables alike.
static void clibc_capture_arguments(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
}

__attribute__((section(".init_array"), used))
static void (*const clibc_capture)(int, char **, char **) = clibc_capture_arguments;

int clibc_argc(void) { return saved_argc; }
char *const *clibc_argv(void) { return saved_argv; }

#if defined(DLMS_BRIDGE_EMBEDDED)
// Double(String) in Embedded Swift calls this, which the full runtime (libswiftCore) provides and the
// Embedded stdlib does not. Its contract, as the runtime's: parse with the C locale, store the value, return
// the end of what was parsed, or NULL when the value overflows or underflows the type.
const char *_swift_stdlib_strtod_clocale(const char *nptr, double *outResult) {
    static locale_t c_locale;
    if (!c_locale) c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    char *end;
    errno = 0;
    double result = strtod_l(nptr, &end, c_locale);
    *outResult = result;
    if ((result == HUGE_VAL || result == -HUGE_VAL || result == 0.0) && errno == ERANGE) return NULL;
    return end;
}
#endif
