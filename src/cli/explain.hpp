// explain.hpp - `relay explain [sendmail flags] < message`.
//
// Runs the pickup steps (header completion, rewriting, SMTP safety) on a
// message read from stdin exactly as a real submission would go, and
// prints every rewriting step, the resulting envelope and the header
// section, and the smarthost that would carry it. Nothing is queued.
#pragma once

#include <string>
#include <vector>

#include "cli/context.hpp"

namespace relay::cli {
int run_explain(const Context &ctx, const std::vector<std::string> &args);
}
