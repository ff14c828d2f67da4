// What the parser (expr.cc) and the evaluator (expr_eval.cc) of the
// expression language share; not part of expr.h's API.
#pragma once

#include <optional>
#include <string_view>

namespace modelfs::expr::detail {

// A finite decimal number, all of `text` (a leading '+' allowed).
std::optional<double> Number(std::string_view text);

}  // namespace modelfs::expr::detail
