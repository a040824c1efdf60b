#include "runner/run_directory.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace cgfw::runner {

Result<std::unique_ptr<RunDirectory>> RunDirectory::make() {
  std::string base = kBase;
  if (::mkdir(base.c_str(), 0755) != 0 && errno != EEXIST) {
    const char* tmp = std::getenv("TMPDIR");
    base = tmp && *tmp ? tmp : "/tmp";
  }
  std::string pattern = base + "/run-" + std::to_string(::getpid()) + "-XXXXXX";
  if (!::mkdtemp(pattern.data()))
    return make_error("cannot create the run directory under " + base + ": " +
                      std::strerror(errno));
  ::chmod(pattern.c_str(), 0755);  // the job (another user) reads the trust bundle
  return std::unique_ptr<RunDirectory>(new RunDirectory(pattern));
}

int RunDirectory::sweep_stale(const std::string& base) {
  std::error_code error;
  int swept = 0;
  for (const auto& entry : std::filesystem::directory_iterator(base, error)) {
    std::string name = entry.path().filename().string();
    if (name.rfind("run-", 0) != 0) continue;
    pid_t runner = static_cast<pid_t>(std::strtol(name.c_str() + 4, nullptr, 10));
    if (runner <= 0 || ::kill(runner, 0) == 0 || errno != ESRCH) continue;
    std::error_code ignored;
    if (std::filesystem::remove_all(entry.path(), ignored) > 0) ++swept;
  }
  return swept;
}

RunDirectory::~RunDirectory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace cgfw::runner
