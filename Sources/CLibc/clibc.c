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

void clibc_set_thread_name(const char *name) {
    char cut[16];
    snprintf(cut, sizeof cut, "%s", name);
    (void)pthread_setname_np(pthread_self(), cut);
}

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

#if defined(DLMS_BRIDGE_EMBEDDED) && UINTPTR_MAX == 0xffffffffffffffffu
// The Embedded stdlib of Swift 6.3 defines swift_bridgeObjectRetain(_n) (weak) to retain the masked object
// and return the *masked* value, while the contract, which the compiler relies on, is to return the object as
// given. On 64-bit targets the mask clears the String discriminator bits, so the caller goes on with a small
// string turned into a pointer-less large one: the aarch64 agent crashed rendering profile rows (SIGSEGV in
// String's UTF-8 view). Fixed upstream after 6.3 (swiftlang/swift#91151); until the toolchain has it, these
// strong definitions replace the weak ones at link time. Same masks as the Embedded runtime: the top nibble's
// tag bits and the low three spare bits; an immortal object (bit 63) or nil is not retained, which
// swift_retain checks itself. armv7 bridge objects carry no tag bits, so its runtime is right as it is.
#include <stdint.h>
extern void *swift_retain(void *object);

static void *bridge_object_plain(void *object) {
    return (void *)((uintptr_t)object & 0x8ffffffffffffff8u);
}

void *swift_bridgeObjectRetain(void *object) {
    swift_retain(bridge_object_plain(object));
    return object;
}

void *swift_bridgeObjectRetain_n(void *object, uint32_t n) {
    void *plain = bridge_object_plain(object);
    for (uint32_t i = 0; i < n; i++) swift_retain(plain);
    return object;
}
#endif
