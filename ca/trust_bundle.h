// The files that make the sandboxed job trust the run CA, and the environment variables that point
// common tools at them. See docs/ca.md for the tools that need more than a variable.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace cgfw::ca {

// Paths of the files write_trust_bundle wrote.
struct TrustBundle {
  std::string ca_file;      // "<dir>/cgfw-ca.pem": the run CA alone
  std::string bundle_file;  // "<dir>/ca-bundle.pem": the system roots, then the run CA
};

inline constexpr std::string_view kCaFileName = "cgfw-ca.pem";
inline constexpr std::string_view kBundleFileName = "ca-bundle.pem";
inline constexpr std::string_view kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";

// Writes `ca_pem` as "<dir>/cgfw-ca.pem", and the contents of `system_bundle` followed by
// `ca_pem` as "<dir>/ca-bundle.pem", both 0644 whatever the umask (a certificate is public; the
// job runs as another user). Each file is written to a temporary name and renamed into place, so
// a reader never sees half a bundle. `dir` must exist. A missing or unreadable `system_bundle` is
// an error naming it; `system_bundle` "" means "run CA only" (the bundle holds just the run CA).
// RunCa::write_trust_bundle is the usual entry point.
Result<TrustBundle> write_trust_bundle_files(std::string_view ca_pem, const std::string& dir,
                                             const std::string& system_bundle);

// Environment variables that make common tools trust the bundle: SSL_CERT_FILE, CURL_CA_BUNDLE,
// REQUESTS_CA_BUNDLE, GIT_SSL_CAINFO, PIP_CERT, CARGO_HTTP_CAINFO, AWS_CA_BUNDLE -> bundle_file
// (each of these replaces the tool's roots, so it needs the system roots too);
// NODE_EXTRA_CA_CERTS -> ca_file (node adds it to its built-in roots). Java needs a trust store,
// not a variable; docs/ca.md says how, and why cgfw does not do it itself.
std::vector<std::pair<std::string, std::string>> job_environment(const TrustBundle& bundle);

}  // namespace cgfw::ca
