#include "ca/trust_bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cgfw::ca {
namespace {

constexpr mode_t kPublicFileMode = 0644;

std::string errno_text(int error) { return std::strerror(error); }

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot write " + path + ": " + errno_text(errno));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return Ok{};
}

// Writes `contents` to `path` through "<path>.tmp" and rename(2), mode 0644 set with fchmod so
// the umask cannot take read access away from the job's user.
Status write_public_file(const std::string& path, std::string_view contents) {
  const std::string temporary = path + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                        kPublicFileMode);
  if (fd < 0) return make_error("cannot create " + temporary + ": " + errno_text(errno));
  Status status = write_all(fd, contents, temporary);
  if (status && ::fchmod(fd, kPublicFileMode) != 0) {
    status = make_error("cannot chmod " + temporary + ": " + errno_text(errno));
  }
  if (status && ::fsync(fd) != 0) {
    status = make_error("cannot sync " + temporary + ": " + errno_text(errno));
  }
  if (::close(fd) != 0 && status) {
    status = make_error("cannot close " + temporary + ": " + errno_text(errno));
  }
  if (status && ::rename(temporary.c_str(), path.c_str()) != 0) {
    status = make_error("cannot rename " + temporary + " to " + path + ": " + errno_text(errno));
  }
  if (!status) ::unlink(temporary.c_str());
  return status;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error("cannot read the system CA bundle " + path + ": " + errno_text(errno) +
                      " (pass \"\" to trust the run CA only)");
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return make_error("cannot read the system CA bundle " + path);
  return contents.str();
}

}  // namespace

Result<TrustBundle> write_trust_bundle_files(std::string_view ca_pem, const std::string& dir,
                                             const std::string& system_bundle) {
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) {
    return make_error("trust bundle directory " + dir + ": " + errno_text(errno));
  }
  if (!S_ISDIR(info.st_mode)) return make_error("trust bundle path " + dir + " is not a directory");

  std::string bundle;
  if (!system_bundle.empty()) {
    Result<std::string> system = read_file(system_bundle);
    if (!system) return system.error();
    bundle = std::move(*system);
    // PEM blocks need their own lines; a bundle without a final newline would glue the run CA's
    // BEGIN line onto the last END line, and parsers would drop the run CA.
    if (!bundle.empty() && bundle.back() != '\n') bundle += '\n';
  }
  bundle += ca_pem;

  const std::string base = dir.ends_with('/') ? dir : dir + "/";
  TrustBundle paths{base + std::string(kCaFileName), base + std::string(kBundleFileName)};
  if (Status ok = write_public_file(paths.ca_file, ca_pem); !ok) return ok.error();
  if (Status ok = write_public_file(paths.bundle_file, bundle); !ok) return ok.error();
  return paths;
}

std::vector<std::pair<std::string, std::string>> job_environment(const TrustBundle& bundle) {
  return {
      {"SSL_CERT_FILE", bundle.bundle_file},  // OpenSSL users (Python ssl, Ruby, .NET), Go
      {"CURL_CA_BUNDLE", bundle.bundle_file},
      {"REQUESTS_CA_BUNDLE", bundle.bundle_file},  // Python requests ships certifi otherwise
      {"GIT_SSL_CAINFO", bundle.bundle_file},
      {"PIP_CERT", bundle.bundle_file},
      {"CARGO_HTTP_CAINFO", bundle.bundle_file},
      {"AWS_CA_BUNDLE", bundle.bundle_file},
      {"NODE_EXTRA_CA_CERTS", bundle.ca_file},  // added to node's built-in roots, not replacing
  };
}

}  // namespace cgfw::ca
