#include "ca/run_ca.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "policy/ip_literal.h"
#include "policy/parser.h"

namespace cgfw::ca {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

policy::IpPrefix prefix_of(const char* address, int length) {
  std::optional<policy::IpPrefix> prefix = policy::parse_ipv4(address);
  if (!prefix) prefix = policy::parse_ipv6(address);
  EXPECT_TRUE(prefix) << address;
  prefix->prefix_length = length;
  return *prefix;
}

CaOptions example_options() {
  CaOptions options;
  options.permitted_dns = {"example.com"};
  options.permitted_ips = {prefix_of("198.51.100.0", 24), prefix_of("2001:db8::", 32)};
  return options;
}

std::unique_ptr<RunCa> make_ca(const CaOptions& options = example_options()) {
  Result<std::unique_ptr<RunCa>> ca = RunCa::make(options);
  if (!ca) {
    ADD_FAILURE() << ca.error().message;
    return nullptr;
  }
  return std::move(*ca);
}

std::shared_ptr<const Leaf> leaf_of(RunCa& ca, std::string_view host) {
  Result<std::shared_ptr<const Leaf>> leaf = ca.leaf_for(host);
  if (!leaf) {
    ADD_FAILURE() << host << ": " << leaf.error().message;
    return nullptr;
  }
  return *leaf;
}

// Chain verification as a TLS client does it: trust only `ca`, purpose sslserver, and the host
// name or IP address the client asked for. Returns the X509_V_* result.
int verify(X509* leaf, X509* ca, std::string_view host) {
  X509StorePtr store(X509_STORE_new());
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), ca), 1);
  EXPECT_EQ(X509_STORE_CTX_init(context.get(), store.get(), leaf, nullptr), 1);
  EXPECT_EQ(X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_SERVER), 1);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(context.get());
  const std::string text(host);
  if (policy::parse_ipv4(text) || policy::parse_ipv6(text)) {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_ip_asc(param, text.c_str()), 1);
  } else {
    EXPECT_EQ(X509_VERIFY_PARAM_set1_host(param, text.c_str(), 0), 1);
  }
  X509_verify_cert(context.get());
  return X509_STORE_CTX_get_error(context.get());
}

// A certificate built outside RunCa, as an attacker holding a constrained CA's key would.
X509Ptr forge(X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* subject_key, const char* common_name,
              const std::vector<std::pair<int, std::string>>& extensions) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer ? issuer : cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), subject_key);
  for (const auto& [nid, value] : extensions) {
    X509V3_CTX context;
    X509V3_set_ctx(&context, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
    X509ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value.c_str()));
    EXPECT_TRUE(extension) << value << ": " << openssl_error();
    if (extension) X509_add_ext(cert.get(), extension.get(), -1);
  }
  X509_sign(cert.get(), issuer_key, EVP_sha256());
  return cert;
}

std::vector<std::string> subtrees(const STACK_OF(GENERAL_SUBTREE) * list) {
  std::vector<std::string> out;
  for (int i = 0; i < sk_GENERAL_SUBTREE_num(list); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_SUBTREE_value(list, i)->base;
    if (name->type == GEN_DNS) {
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(name->d.dNSName->data),
                                         name->d.dNSName->length));
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;  // address then mask
      const int family = ip->length == 8 ? AF_INET : AF_INET6;
      std::array<std::uint8_t, 16> address{}, mask{};
      std::copy_n(ip->data, ip->length / 2, address.begin());
      std::copy_n(ip->data + ip->length / 2, ip->length / 2, mask.begin());
      out.push_back("IP:" + policy::format_address(family, address) + "/" +
                    policy::format_address(family, mask));
    }
  }
  return out;
}

TEST(RunCa, CaCertificateIsAConstrainedSelfSignedCa) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  X509* cert = ca->certificate();
  EXPECT_EQ(X509_check_issued(cert, cert), X509_V_OK);
  EXPECT_EQ(X509_verify(cert, X509_get0_pubkey(cert)), 1);
  EXPECT_EQ(X509_check_ca(cert), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(X509_get0_pubkey(cert), "EC"));
  char group[32] = {};
  EVP_PKEY_get_group_name(X509_get0_pubkey(cert), group, sizeof group, nullptr);
  EXPECT_STREQ(group, "prime256v1");

  int critical = -1;
  auto* basic = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_basic_constraints, &critical, nullptr));
  ASSERT_TRUE(basic);
  EXPECT_EQ(critical, 1);
  EXPECT_TRUE(basic->ca);
  EXPECT_EQ(ASN1_INTEGER_get(basic->pathlen), 0);
  BASIC_CONSTRAINTS_free(basic);
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_TRUE(X509_get0_subject_key_id(cert));

  auto* constraints = static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(cert, NID_name_constraints, &critical, nullptr));
  ASSERT_TRUE(constraints);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(subtrees(constraints->permittedSubtrees),
            (std::vector<std::string>{"DNS:example.com", "IP:198.51.100.0/255.255.255.0",
                                      "IP:2001:db8::/ffff:ffff::"}));
  EXPECT_TRUE(subtrees(constraints->excludedSubtrees).empty());
  NAME_CONSTRAINTS_free(constraints);

  char name[256];
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  EXPECT_TRUE(std::string(name).starts_with("/O=cgfw/CN=cgfw run CA ")) << name;
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  EXPECT_EQ(BN_num_bits(serial.get()), 128);
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
  EXPECT_EQ(days * 86400 + secs, 25 * 3600);  // backdated 1 h, valid 24 h

  BioPtr pem(BIO_new_mem_buf(ca->certificate_pem().data(), -1));
  X509Ptr parsed(PEM_read_bio_X509(pem.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(X509_cmp(parsed.get(), cert), 0);
}

TEST(RunCa, LeafVerifiesAgainstTheCa) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  auto leaf = leaf_of(*ca, "api.example.com");
  ASSERT_TRUE(leaf);
  X509* cert = leaf->certificate();
  EXPECT_EQ(verify(cert, ca->certificate(), "api.example.com"), X509_V_OK);
  EXPECT_EQ(verify(cert, ca->certificate(), "www.example.com"), X509_V_ERR_HOSTNAME_MISMATCH);
  EXPECT_EQ(X509_check_ca(cert), 0);
  EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<std::uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert),
                                  X509_get0_subject_key_id(ca->certificate())),
            0);
  char name[256];
  X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
  EXPECT_STREQ(name, "/O=cgfw/CN=api.example.com");
  EXPECT_EQ(leaf->host(), "api.example.com");
  EXPECT_EQ(X509_check_private_key(cert, leaf->key()), 1);
  // A name longer than commonName's 64 characters still gets a leaf, named by its SAN alone.
  const std::string long_name = std::string(60, 'a') + "." + std::string(60, 'b') + ".example.com";
  auto long_leaf = leaf_of(*ca, long_name);
  ASSERT_TRUE(long_leaf);
  EXPECT_EQ(verify(long_leaf->certificate(), ca->certificate(), long_name), X509_V_OK);
}

TEST(RunCa, RefusesHostsOutsideTheConstraints) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  for (const char* host : {"evil.test", "badexample.com", "example.com.evil.test", "203.0.113.5",
                           "2001:db9::1", "::ffff:198.51.100.10"}) {
    Result<std::shared_ptr<const Leaf>> leaf = ca->leaf_for(host);
    ASSERT_FALSE(leaf) << host;
    EXPECT_NE(leaf.error().message.find("name constraints"), std::string::npos);
  }
  EXPECT_EQ(ca->mint_count(), 0u);
}

TEST(RunCa, RefusesMalformedHosts) {
  auto ca = make_ca(CaOptions{});
  ASSERT_TRUE(ca);
  for (const std::string& host :
       std::vector<std::string>{"", "*.example.com", "*", "a_b.example.com", "exa mple.com",
                                "example..com", ".example.com", "[example.com]", "1.2.3",
                                "-a.example.com", "a/b", std::string(250, 'a') + ".com"}) {
    EXPECT_FALSE(ca->leaf_for(host)) << host;
  }
  auto leaf = leaf_of(*ca, "API.Example.COM.");
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->host(), "api.example.com");
}

// The constraints must hold even for a leaf RunCa would never mint: build one with OpenSSL,
// signed by a test CA carrying the run CA's own nameConstraints extension.
TEST(RunCa, ChainVerificationRejectsLeavesOutsideTheConstraints) {
  CaOptions options;
  options.permitted_dns = {"example.com"};  // no IPs: every address is excluded
  auto run_ca = make_ca(options);
  ASSERT_TRUE(run_ca);
  X509* run_cert = run_ca->certificate();
  X509_EXTENSION* constraints =
      X509_get_ext(run_cert, X509_get_ext_by_NID(run_cert, NID_name_constraints, -1));
  ASSERT_TRUE(constraints);

  EvpPkeyPtr ca_key(EVP_EC_gen("P-256"));
  EvpPkeyPtr leaf_key(EVP_EC_gen("P-256"));
  X509Ptr test_ca = forge(nullptr, ca_key.get(), ca_key.get(), "test CA",
                          {{NID_basic_constraints, "critical,CA:TRUE"},
                           {NID_key_usage, "critical,keyCertSign"},
                           {NID_subject_key_identifier, "hash"}});
  X509_add_ext(test_ca.get(), constraints, -1);
  X509_sign(test_ca.get(), ca_key.get(), EVP_sha256());

  auto leaf = [&](const char* cn, const std::string& san) {
    return forge(test_ca.get(), ca_key.get(), leaf_key.get(), cn,
                 {{NID_basic_constraints, "critical,CA:FALSE"},
                  {NID_ext_key_usage, "serverAuth"},
                  {NID_subject_alt_name, san}});
  };
  EXPECT_EQ(verify(leaf("ok", "DNS:a.example.com").get(), test_ca.get(), "a.example.com"),
            X509_V_OK);
  EXPECT_EQ(verify(leaf("evil", "DNS:evil.test").get(), test_ca.get(), "evil.test"),
            X509_V_ERR_PERMITTED_VIOLATION);
  EXPECT_EQ(verify(leaf("evil", "IP:203.0.113.5").get(), test_ca.get(), "203.0.113.5"),
            X509_V_ERR_EXCLUDED_VIOLATION);
  EXPECT_EQ(verify(leaf("evil", "IP:2001:db8::1").get(), test_ca.get(), "2001:db8::1"),
            X509_V_ERR_EXCLUDED_VIOLATION);
}

TEST(RunCa, IpLeafVerifiesAsAnIpAddress) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  auto v4 = leaf_of(*ca, "198.51.100.10");
  ASSERT_TRUE(v4);
  EXPECT_EQ(verify(v4->certificate(), ca->certificate(), "198.51.100.10"), X509_V_OK);
  EXPECT_EQ(verify(v4->certificate(), ca->certificate(), "198.51.100.11"),
            X509_V_ERR_IP_ADDRESS_MISMATCH);
  auto v6 = leaf_of(*ca, "[2001:DB8:0::10]");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host(), "2001:db8::10");
  EXPECT_EQ(verify(v6->certificate(), ca->certificate(), "2001:db8::10"), X509_V_OK);
  EXPECT_EQ(leaf_of(*ca, "2001:db8::10"), v6);
}

TEST(RunCa, CacheReturnsTheSameLeafAndSharesOneKey) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  auto first = leaf_of(*ca, "a.example.com");
  EXPECT_EQ(leaf_of(*ca, "a.example.com"), first);
  EXPECT_EQ(leaf_of(*ca, "A.EXAMPLE.COM"), first);
  EXPECT_EQ(ca->mint_count(), 1u);
  EXPECT_EQ(ca->hit_count(), 2u);

  auto second = leaf_of(*ca, "b.example.com");
  auto third = leaf_of(*ca, "198.51.100.7");
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(
      EVP_PKEY_eq(X509_get0_pubkey(first->certificate()), X509_get0_pubkey(second->certificate())),
      1);
  EXPECT_EQ(
      EVP_PKEY_eq(X509_get0_pubkey(first->certificate()), X509_get0_pubkey(third->certificate())),
      1);
  EXPECT_EQ(first->key(), second->key());
  EXPECT_NE(EVP_PKEY_eq(first->key(), X509_get0_pubkey(ca->certificate())), 1);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(first->certificate()),
                             X509_get0_serialNumber(second->certificate())),
            0);
}

TEST(RunCa, CacheEvictsTheLeastRecentlyUsed) {
  CaOptions options = example_options();
  options.leaf_cache_size = 2;
  auto ca = make_ca(options);
  ASSERT_TRUE(ca);
  auto a = leaf_of(*ca, "a.example.com");
  auto b = leaf_of(*ca, "b.example.com");
  EXPECT_EQ(leaf_of(*ca, "a.example.com"), a);  // a is now the most recent
  auto c = leaf_of(*ca, "c.example.com");       // evicts b
  EXPECT_EQ(ca->mint_count(), 3u);
  EXPECT_EQ(leaf_of(*ca, "a.example.com"), a);
  EXPECT_EQ(leaf_of(*ca, "c.example.com"), c);
  EXPECT_EQ(ca->mint_count(), 3u);
  auto b_again = leaf_of(*ca, "b.example.com");
  EXPECT_NE(b_again, b);
  EXPECT_EQ(ca->mint_count(), 4u);
  // The evicted leaf is still whole: a connection may still be using it.
  EXPECT_EQ(verify(b->certificate(), ca->certificate(), "b.example.com"), X509_V_OK);
}

TEST(RunCa, CacheHitIsRecheckedBeforeUse) {
  TimePoint fake_now = TimePoint::clock::now();
  CaOptions options = example_options();
  options.validity = hours(2);
  options.clock = [&] { return fake_now; };
  auto ca = make_ca(options);
  ASSERT_TRUE(ca);
  const TimePoint start = fake_now;
  auto leaf = leaf_of(*ca, "a.example.com");
  ASSERT_TRUE(leaf);
  EXPECT_EQ(leaf->not_after(), std::chrono::time_point_cast<seconds>(start) + hours(2));

  fake_now = start + hours(1);
  EXPECT_EQ(leaf_of(*ca, "a.example.com"), leaf);
  // The clock stepped back past notBefore: the cached leaf is not valid yet, so a new one.
  fake_now = start - hours(2);
  auto remint = leaf_of(*ca, "a.example.com");
  EXPECT_NE(remint, leaf);
  EXPECT_EQ(ca->mint_count(), 2u);
  // 30 s before the CA expires no leaf can be valid for another minute: refuse, do not reuse.
  fake_now = start + hours(2) - seconds(30);
  Result<std::shared_ptr<const Leaf>> late = ca->leaf_for("a.example.com");
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("expires"), std::string::npos) << late.error().message;
}

TEST(RunCa, LeafOutlivesItsCa) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  auto leaf = leaf_of(*ca, "a.example.com");
  X509Ptr ca_cert(X509_dup(ca->certificate()));
  ca.reset();
  ASSERT_TRUE(leaf);
  EXPECT_EQ(X509_check_private_key(leaf->certificate(), leaf->key()), 1);
  EXPECT_EQ(verify(leaf->certificate(), ca_cert.get(), "a.example.com"), X509_V_OK);
}

TEST(RunCa, ConcurrentCallersShareOneMintPerHost) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  constexpr int kHosts = 20;
  std::vector<std::vector<std::shared_ptr<const Leaf>>> seen(8);
  std::vector<std::thread> threads;
  for (auto& mine : seen) {
    threads.emplace_back([&ca, &mine] {
      for (int i = 0; i < kHosts; ++i) {
        Result<std::shared_ptr<const Leaf>> leaf =
            ca->leaf_for("h" + std::to_string(i) + ".example.com");
        mine.push_back(leaf ? *leaf : nullptr);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ca->mint_count(), static_cast<std::uint64_t>(kHosts));
  for (const auto& mine : seen) EXPECT_EQ(mine, seen.front());
}

TEST(RunCa, MakeRefusesBadOptions) {
  auto refused = [](auto change) {
    CaOptions options = example_options();
    change(options);
    return !RunCa::make(options).ok();
  };
  EXPECT_TRUE(refused([](CaOptions& o) { o.permitted_dns = {"Example.com"}; }));
  EXPECT_TRUE(refused([](CaOptions& o) { o.permitted_dns = {"*.example.com"}; }));
  EXPECT_TRUE(refused([](CaOptions& o) { o.permitted_dns = {"a,permitted;DNS:evil.test"}; }));
  EXPECT_TRUE(refused([](CaOptions& o) { o.permitted_ips = {prefix_of("198.51.100.1", 24)}; }));
  EXPECT_TRUE(refused([](CaOptions& o) { o.permitted_ips = {prefix_of("198.51.100.0", 33)}; }));
  EXPECT_TRUE(refused([](CaOptions& o) { o.leaf_cache_size = 0; }));
  EXPECT_TRUE(refused([](CaOptions& o) { o.validity = hours(0); }));
  EXPECT_FALSE(refused([](CaOptions&) {}));
}

policy::Policy policy_of(const std::string& text) {
  const policy::ParseResult result = policy::parse_rules(text, "test");
  for (const policy::ParseError& error : result.errors) ADD_FAILURE() << error.to_string();
  policy::Policy policy;
  policy::append_rules(policy, result.rules);
  return policy;
}

TEST(CaConstraints, FromPolicy) {
  const CaOptions options = constraints_from(
      policy_of("example.com sub.example.com *.wild.example.org https://api.github.com/repos/* "
                "https://*.cdn.example.net/ https://198.51.100.10/x https://[2001:db8::10]:8443/ "
                "203.0.113.0/24 [2001:db8:1::10]"));
  EXPECT_EQ(options.permitted_dns, (std::vector<std::string>{"api.github.com", "cdn.example.net",
                                                             "example.com", "wild.example.org"}));
  EXPECT_EQ(options.permitted_ips, (std::vector<policy::IpPrefix>{prefix_of("198.51.100.10", 32),
                                                                  prefix_of("2001:db8::10", 128)}));
  EXPECT_TRUE(constraints_from(policy_of("203.0.113.0/24")).permitted_dns.empty());
  EXPECT_TRUE(constraints_from(policy_of("203.0.113.0/24")).permitted_ips.empty());
}

TEST(CaConstraints, OmittedNameTypesAreExcluded) {
  CaOptions names_only;
  names_only.permitted_dns = {"example.com"};
  EXPECT_EQ(name_constraints_config(names_only),
            "critical,permitted;DNS:example.com,excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:::/::");
  CaOptions ips_only;
  ips_only.permitted_ips = {prefix_of("198.51.100.0", 24)};
  EXPECT_EQ(name_constraints_config(ips_only),
            "critical,permitted;DNS:invalid,permitted;IP:198.51.100.0/255.255.255.0");
  EXPECT_EQ(name_constraints_config(CaOptions{}), "");

  auto ca = make_ca(ips_only);
  ASSERT_TRUE(ca);
  EXPECT_FALSE(ca->leaf_for("example.com"));
  EXPECT_FALSE(ca->leaf_for("x.invalid"));
  auto leaf = leaf_of(*ca, "198.51.100.10");
  ASSERT_TRUE(leaf);
  EXPECT_EQ(verify(leaf->certificate(), ca->certificate(), "198.51.100.10"), X509_V_OK);
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cgfw-ca-test-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string contents_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int mode_of(const std::string& path) {
  struct stat info {};
  EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
  return static_cast<int>(info.st_mode & 07777);
}

TEST(TrustBundle, WritesTheCaAndTheSystemBundlePlusTheCa) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string system = dir.path() + "/system.crt";
  std::ofstream(system) << "-----BEGIN CERTIFICATE-----\nFAKEROOT\n-----END CERTIFICATE-----";
  const mode_t old_mask = ::umask(077);  // the files must be readable by the job anyway
  Result<TrustBundle> bundle = ca->write_trust_bundle(dir.path(), system);
  ::umask(old_mask);
  ASSERT_TRUE(bundle) << bundle.error().message;
  EXPECT_EQ(bundle->ca_file, dir.path() + "/cgfw-ca.pem");
  EXPECT_EQ(bundle->bundle_file, dir.path() + "/ca-bundle.pem");
  EXPECT_EQ(contents_of(bundle->ca_file), ca->certificate_pem());
  EXPECT_EQ(
      contents_of(bundle->bundle_file),
      "-----BEGIN CERTIFICATE-----\nFAKEROOT\n-----END CERTIFICATE-----\n" + ca->certificate_pem());
  EXPECT_EQ(mode_of(bundle->ca_file), 0644);
  EXPECT_EQ(mode_of(bundle->bundle_file), 0644);
  EXPECT_FALSE(std::filesystem::exists(bundle->bundle_file + ".tmp"));
}

TEST(TrustBundle, MissingSystemBundleIsAnErrorNamingIt) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  TempDir dir;
  Result<TrustBundle> missing = ca->write_trust_bundle(dir.path(), dir.path() + "/nope.crt");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find(dir.path() + "/nope.crt"), std::string::npos);
  EXPECT_FALSE(ca->write_trust_bundle(dir.path() + "/no-such-dir", ""));

  Result<TrustBundle> ca_only = ca->write_trust_bundle(dir.path(), "");
  ASSERT_TRUE(ca_only) << ca_only.error().message;
  EXPECT_EQ(contents_of(ca_only->bundle_file), ca->certificate_pem());
}

TEST(TrustBundle, JobEnvironmentPointsEveryToolAtTheBundle) {
  const TrustBundle bundle{"/run/cgfw/cgfw-ca.pem", "/run/cgfw/ca-bundle.pem"};
  const auto environment = job_environment(bundle);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"SSL_CERT_FILE", bundle.bundle_file},      {"CURL_CA_BUNDLE", bundle.bundle_file},
      {"REQUESTS_CA_BUNDLE", bundle.bundle_file}, {"GIT_SSL_CAINFO", bundle.bundle_file},
      {"PIP_CERT", bundle.bundle_file},           {"CARGO_HTTP_CAINFO", bundle.bundle_file},
      {"AWS_CA_BUNDLE", bundle.bundle_file},      {"NODE_EXTRA_CA_CERTS", bundle.ca_file}};
  EXPECT_EQ(environment, expected);
}

// Drives a client and a server SSL over a BIO pair until both finish or one fails.
// Returns the client's verify result, or -1 when the handshake did not complete.
long handshake(RunCa& ca, const Leaf& leaf, const char* host) {
  SslCtxPtr server_ctx(SSL_CTX_new(TLS_server_method()));
  SslCtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
  EXPECT_EQ(X509_STORE_add_cert(SSL_CTX_get_cert_store(client_ctx.get()), ca.certificate()), 1);
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);
  SslPtr server(SSL_new(server_ctx.get()));
  SslPtr client(SSL_new(client_ctx.get()));
  EXPECT_EQ(SSL_use_certificate(server.get(), leaf.certificate()), 1);
  EXPECT_EQ(SSL_use_PrivateKey(server.get(), leaf.key()), 1);
  EXPECT_EQ(SSL_set_tlsext_host_name(client.get(), host), 1);
  EXPECT_EQ(SSL_set1_host(client.get(), host), 1);
  BIO* client_end = nullptr;
  BIO* server_end = nullptr;
  EXPECT_EQ(BIO_new_bio_pair(&client_end, 0, &server_end, 0), 1);
  SSL_set_bio(client.get(), client_end, client_end);  // each SSL now owns its end
  SSL_set_bio(server.get(), server_end, server_end);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());

  bool client_done = false, server_done = false;
  auto step = [](SSL* ssl, bool& done) {
    const int rc = SSL_do_handshake(ssl);
    if (rc == 1) return done = true;
    const int error = SSL_get_error(ssl, rc);
    return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE;
  };
  for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
    if (!client_done && !step(client.get(), client_done)) return -1;
    if (!server_done && !step(server.get(), server_done)) return -1;
  }
  if (!(client_done && server_done)) return -1;
  const char* server_name = SSL_get_servername(server.get(), TLSEXT_NAMETYPE_host_name);
  EXPECT_STREQ(server_name, host);
  return SSL_get_verify_result(client.get());
}

TEST(RunCa, TlsHandshakeInMemoryVerifies) {
  auto ca = make_ca();
  ASSERT_TRUE(ca);
  auto leaf = leaf_of(*ca, "api.example.com");
  ASSERT_TRUE(leaf);
  EXPECT_EQ(handshake(*ca, *leaf, "api.example.com"), X509_V_OK);
  EXPECT_EQ(handshake(*ca, *leaf, "other.example.com"), -1);  // the client refuses the name
  ERR_clear_error();
}

// A benchmark's number, printed, never asserted: tests assert correctness only.
TEST(RunCa, MintSpeed) {
  auto ca = make_ca(CaOptions{});
  ASSERT_TRUE(ca);
  constexpr int kMints = 1000;
  std::vector<double> micros;
  micros.reserve(kMints);
  for (int i = 0; i < kMints; ++i) {
    const std::string host = "host-" + std::to_string(i) + ".example.com";
    const auto start = std::chrono::steady_clock::now();
    Result<std::shared_ptr<const Leaf>> leaf = ca->leaf_for(host);
    const auto stop = std::chrono::steady_clock::now();
    ASSERT_TRUE(leaf) << leaf.error().message;
    micros.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
  }
  EXPECT_EQ(ca->mint_count(), static_cast<std::uint64_t>(kMints));
  std::sort(micros.begin(), micros.end());
  std::cout << "[ bench    ] leaf mint p50 " << micros[kMints / 2] << " us, p99 "
            << micros[kMints * 99 / 100] << " us over " << kMints << " distinct names\n";
  RecordProperty("mint_p50_us", static_cast<int>(micros[kMints / 2]));
}

}  // namespace
}  // namespace cgfw::ca
