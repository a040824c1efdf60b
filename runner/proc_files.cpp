#include "runner/proc_files.h"

#include <fcntl.h>
#include <unistd.h>

#include "runner/unique_fd.h"

namespace cgfw::runner {

std::string read_proc_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return {};
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > (1 << 20)) break;
  }
  return n < 0 ? std::string() : text;
}

}  // namespace cgfw::runner
