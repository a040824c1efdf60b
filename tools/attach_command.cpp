#include "tools/attach_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "tools/commands.h"

namespace cgfw::tools {
namespace {

struct TargetFlag {
  const char* ours;
  const char* sandbox;
};
constexpr TargetFlag kTargets[] = {
    {"--cgroup", "--attach-cgroup"}, {"--unit", "--attach-unit"}, {"--pid", "--attach-cgroup-of"}};

const char* kUsage =
    "usage: cgfw attach --cgroup PATH | --unit NAME | --pid PID [cgfw-sandbox options: -a RULE, "
    "-f FILE, --audit, --report-json FILE, --fail-open, ...]";

}  // namespace

AttachTranslation translate_attach(const std::vector<std::string>& args) {
  AttachTranslation out;
  int targets = 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      out.error = "cgfw attach polices processes that are running already: it takes no command";
      return out;
    }
    if (arg == "-h" || arg == "--help") {
      out.error = kUsage;
      return out;
    }
    bool matched = false;
    for (const auto& target : kTargets) {
      std::string ours = target.ours;
      std::string value;
      if (arg == ours) {
        if (i + 1 >= args.size()) {
          out.error = ours + " needs a value";
          return out;
        }
        value = args[++i];
      } else if (arg.rfind(ours + "=", 0) == 0) {
        value = arg.substr(ours.size() + 1);
      } else {
        continue;
      }
      matched = true;
      ++targets;
      out.sandbox_args.push_back(target.sandbox);
      out.sandbox_args.push_back(value);
      break;
    }
    if (!matched) out.sandbox_args.push_back(arg);
  }
  if (targets != 1)
    out.error = std::string(targets == 0 ? "what to police is missing" : "give one target only") +
                "\n" + kUsage;
  return out;
}

int run_attach(const std::vector<std::string>& args, const char* argv0) {
  auto translated = translate_attach(args);
  if (!translated.error.empty()) {
    std::cerr << "cgfw attach: " << translated.error << "\n";
    return kExitBadInput;
  }
  // The runner installed beside this binary (a build tree, /usr/local/bin), else PATH's.
  std::error_code ignored;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ignored);
  std::string beside = self.empty() ? "" : (self.parent_path() / "cgfw-sandbox").string();
  std::string program =
      !beside.empty() && ::access(beside.c_str(), X_OK) == 0 ? beside : "cgfw-sandbox";
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (auto& arg : translated.sandbox_args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  ::execvp(program.c_str(), argv.data());
  std::cerr << "cgfw attach: cannot run " << program << ": " << std::strerror(errno) << " ("
            << argv0 << " expects cgfw-sandbox beside it or on PATH)\n";
  return kExitBadInput;
}

}  // namespace cgfw::tools
