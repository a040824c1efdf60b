// The rule grammar: one rule per whitespace-separated token, '#' to end of line is a comment.
// See docs/rules.md for the grammar and every error it reports.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "policy/rule.h"

namespace cgfw::policy {

struct ParseError {
  SourceLocation where;
  std::string token;
  std::string why;
  // "egress.txt:3:5: 'exa*mple.com': '*' is only allowed as the whole first label"
  std::string to_string() const;
};

// Parses rules from text. Every bad token is reported (not just the first); on any error the
// result holds no rules. `source` names the text in locations ("egress.txt", "--allow #2").
struct ParseResult {
  std::vector<Rule> rules;
  std::vector<ParseError> errors;
};
ParseResult parse_rules(std::string_view text, const std::string& source);

// Parses one token (a single --allow value). Location: source:1:1.
ParseResult parse_rule(std::string_view token, const std::string& source);

// Reads and parses a file; an unreadable file is one ParseError naming the file and errno.
ParseResult parse_file(const std::string& path);

// Turns parsed rules into deny rules (same grammar; docs/rules.md "Deny rules"). A name rule
// with ports is an error: names are denied where names are seen (DNS, SNI, Host), which knows
// no port, so "github.com:22" could not mean what it says. On any error no rules are left.
void make_deny_rules(ParseResult& parsed);

// Appends `more` to `policy`, renumbering ids so Rule::id == index.
void append_rules(Policy& policy, std::vector<Rule> more);

}  // namespace cgfw::policy
