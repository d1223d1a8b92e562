#pragma once
// What the harnesses share: a property check that aborts (libFuzzer then
// saves the input as a crash) and the include of libFuzzer's input splitter.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>

// Not assert(): it stays on whatever the build type.
#define MVS_FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            std::fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond); \
            std::abort(); \
        } \
    } while (false)
