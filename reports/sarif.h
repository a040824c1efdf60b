// SARIF 2.1.0 from a JSON report, for GitHub code scanning (docs/reports.md). Validates against
// reports/schema/sarif-schema-2.1.0.json, the OASIS schema.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace cgfw::reports {

struct SarifContext {
  // GITHUB_WORKFLOW_REF, "octo/repo/.github/workflows/ci.yml@refs/heads/main": results of a run
  // without an allow file point at the workflow file, where its --allow rules are written.
  std::string workflow_ref;
  // Absolute path that relative allow-file paths are taken from and artifact URIs are relative
  // to (%SRCROOT%): GITHUB_WORKSPACE, else the current directory. "" when unknown.
  std::string source_root;
  // Optional: tells several cgfw runs of one workflow apart ("cgfw/<mode>/<category>/").
  std::string category;
};

// GITHUB_WORKFLOW_REF and GITHUB_WORKSPACE (else the current directory) from the environment.
SarifContext sarif_context_from_environment();

// ".github/workflows/ci.yml" from "octo/repo/.github/workflows/ci.yml@refs/heads/main"; "" when
// the reference is not of that form.
std::string workflow_file(std::string_view workflow_ref);

// Where results point when the run had neither an allow file nor a known workflow file: the
// allow file the user is invited to create.
inline constexpr const char* kSuggestedAllowFile = ".github/cgfw-allow.txt";

// The SARIF log: one run, one result per distinct (destination, kind, executable).
nlohmann::json make_sarif(const nlohmann::json& report, const SarifContext& context);

}  // namespace cgfw::reports
