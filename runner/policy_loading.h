// The run's policy from the command line: allow and deny rules, files, and the default that
// follows from them.
#pragma once

#include "common/result.h"
#include "policy/rule.h"
#include "runner/options.h"

namespace cgfw::runner {

// Parses --allow, --allow-file, --deny and --deny-file, in that order (rule ids follow it), and
// reports every error of every source at once. With deny rules and no allow source at all, the
// policy allows by default what the deny rules do not refuse (the "everything except ..." shape).
Result<policy::Policy> load_policy(const Options& options);

}  // namespace cgfw::runner
