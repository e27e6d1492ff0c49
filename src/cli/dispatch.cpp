#include "cli/dispatch.hpp"

#include "util/error.hpp"

namespace relay::cli {
int dispatch(int, char **) { throw Fatal(Exit::Software, "not yet implemented"); }
}  // namespace relay::cli
