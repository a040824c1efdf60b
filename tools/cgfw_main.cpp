// `cgfw`: what to do with cgfw-sandbox's reports after the run, and allow lists before it.
//   cgfw report show REPORT.json
//   cgfw report sarif REPORT.json [-o FILE] [--workflow-ref REF] [--source-root DIR]
//   cgfw policy suggest REPORT.json... [--include-blocked] [--collapse-threshold N] [-o FILE]
//   cgfw policy check FILE...
//   cgfw attach --cgroup PATH | --unit NAME | --pid PID [cgfw-sandbox options]
//   cgfw ctl [--socket PATH] status | allow|deny add|remove RULE | mode audit|block | report
//   cgfw stop [--socket PATH]
//   cgfw container-hook [--socket PATH]   (an OCI runtime hook: docs/containers.md)
// Exit status: 0 ok; 1 `policy check` found errors; 2 a usage error, or a report that cannot be
// read or is not a report.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "tools/attach_command.h"
#include "tools/commands.h"
#include "tools/container_hook.h"
#include "tools/ctl_command.h"

int main(int argc, char** argv) {
  using namespace cgfw;

  // `attach` takes cgfw-sandbox's options as they are: it is translated, not parsed, here.
  if (argc > 1 && std::string(argv[1]) == "attach")
    return tools::run_attach(std::vector<std::string>(argv + 2, argv + argc), argv[0]);
  // `ctl` and `stop` read words ("allow add RULE"), which CLI11 would take for subcommands.
  if (argc > 1 && std::string(argv[1]) == "ctl")
    return tools::run_ctl(std::vector<std::string>(argv + 2, argv + argc));
  if (argc > 1 && std::string(argv[1]) == "container-hook")
    return tools::run_container_hook(std::vector<std::string>(argv + 2, argv + argc));
  if (argc > 1 && std::string(argv[1]) == "stop") {
    std::vector<std::string> args(argv + 2, argv + argc);
    args.push_back("stop");
    return tools::run_ctl(args);
  }

  CLI::App app{"cgfw turns cgfw-sandbox's JSON reports into summaries, SARIF and allow lists.",
               "cgfw"};
  app.set_version_flag("--version", std::string("cgfw ") + CGFW_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Also: cgfw attach --cgroup PATH | --unit NAME | --pid PID [cgfw-sandbox options] polices "
      "a running service (docs/attach.md).\n"
      "cgfw ctl [--socket PATH] status | allow|deny add|remove RULE | mode audit|block | report, "
      "and cgfw stop, change a run while it goes on (docs/attach.md).\n"
      "cgfw container-hook [--socket PATH] is an OCI runtime hook that admits a container to the "
      "run before it starts (docs/containers.md).\n"
      "Docs: docs/reports.md (reports), docs/rules.md (allow rules).");

  auto* report = app.add_subcommand("report", "read a JSON report");
  report->require_subcommand(1);

  std::string show_path;
  auto* show = report->add_subcommand("show", "print the report as Markdown (readable as text)");
  show->add_option("REPORT", show_path, "the JSON report (cgfw-sandbox --report-json)")->required();

  std::string sarif_path;
  std::string sarif_output;
  reports::SarifContext context = reports::sarif_context_from_environment();
  auto* sarif = report->add_subcommand("sarif", "write the report as SARIF 2.1.0 (code scanning)");
  sarif->add_option("REPORT", sarif_path, "the JSON report")->required();
  sarif->add_option("-o,--output", sarif_output, "write here instead of stdout");
  sarif->add_option("--workflow-ref", context.workflow_ref,
                    "owner/repo/.github/workflows/X.yml@REF (default: $GITHUB_WORKFLOW_REF)");
  sarif->add_option("--source-root", context.source_root,
                    "the repository checkout (default: $GITHUB_WORKSPACE, else the current "
                    "directory)");
  sarif->add_option("--category", context.category,
                    "tells several cgfw runs of one workflow apart in code scanning");

  auto* policy = app.add_subcommand("policy", "allow lists");
  policy->require_subcommand(1);

  std::vector<std::string> suggest_paths;
  std::string suggest_output;
  reports::SuggestOptions options;
  auto* suggest = policy->add_subcommand(
      "suggest", "print the allow list that would have allowed what the runs did");
  suggest->add_option("REPORT", suggest_paths, "JSON reports (audit runs; merged)")->required();
  suggest->add_flag("--include-blocked", options.include_blocked,
                    "also what block-mode runs were refused");
  suggest
      ->add_option("--collapse-threshold", options.collapse_threshold,
                   "names below one parent before they become '*.parent' (0: never)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  suggest->add_option("-o,--output", suggest_output, "write here instead of stdout");

  std::vector<std::string> check_files;
  auto* check = policy->add_subcommand("check", "check allow files; print every error");
  check->add_option("FILE", check_files, "allow files")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : tools::kExitBadInput;
  }

  if (show->parsed()) return tools::report_show(show_path);
  if (sarif->parsed()) return tools::report_sarif(sarif_path, sarif_output, context);
  if (suggest->parsed()) return tools::policy_suggest(suggest_paths, suggest_output, options);
  if (check->parsed()) return tools::policy_check(check_files);
  return tools::kExitBadInput;
}
