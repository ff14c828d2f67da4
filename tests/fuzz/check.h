// What the fuzz targets share: a property check that, when it fails, says
// which and aborts, so libFuzzer keeps the input as a crash (ctest fails).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "index/names.h"

// Aborts naming the property and the input (escaped) when `cond` is false.
#define FUZZ_CHECK(cond, input)                                                      \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: property failed: %s\n  input: \"%s\"\n", __FILE__, \
                   __LINE__, #cond, ::modelfs::EscapeText(input).c_str());           \
      std::abort();                                                                  \
    }                                                                                \
  } while (0)

namespace modelfs::fuzz {

// The input as text (a parser sees any bytes).
inline std::string_view Text(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace modelfs::fuzz
