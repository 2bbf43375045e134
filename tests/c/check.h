/* Tiny assertions for the C tests: print where and why, then fail the process. */
#ifndef LWM2MC_TEST_CHECK_H
#define LWM2MC_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

#define CHECK_RESULT(expr, want)                                                     \
    do {                                                                             \
        lwm2mc_result got_ = (expr);                                                 \
        if (got_ != (lwm2mc_result)(want)) {                                         \
            fprintf(stderr, "%s:%d: %s returned %u (%s), expected %u (%s)\n", __FILE__, \
                    __LINE__, #expr, (unsigned)got_, lwm2mc_result_str(got_),        \
                    (unsigned)(want), lwm2mc_result_str(want));                      \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_OK(expr) CHECK_RESULT(expr, LWM2MC_RESULT_OK)

#endif
