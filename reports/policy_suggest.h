// `cgfw policy suggest`: the smallest allow list that would have let one or more runs do what they
// did, in the rule grammar of docs/rules.md. The algorithm is described in docs/reports.md.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cgfw::reports {

// Distinct names directly below one parent before they become "*.parent" (docs/reports.md).
inline constexpr int kDefaultCollapseThreshold = 4;

struct SuggestOptions {
  // Audit runs contribute what would have been blocked. With this, blocked events of block-mode
  // runs count too (what a failed run needed).
  bool include_blocked = false;
  // Siblings needed before they are folded into a wildcard; 0 never folds.
  int collapse_threshold = kDefaultCollapseThreshold;
};

// The suggested allow file: comment lines, then rules grouped as domains, URLs, addresses and
// changed rules, each commented with the processes that needed it. Every non-comment line parses
// with policy::parse_rules. Output is sorted and does not depend on the order of `reports`.
std::string suggest_policy(const std::vector<nlohmann::json>& reports,
                           const SuggestOptions& options = {});

}  // namespace cgfw::reports
