// Move-only owners for the OpenSSL handles cgfw holds, and one way to turn OpenSSL's error queue
// into a sentence. Every OpenSSL object cgfw creates goes straight into one of these, so an early
// return can never leak a key or a certificate.
#pragma once

#include <memory>
#include <string>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

namespace cgfw::ca {

// A deleter calling OpenSSL's own free function for the type: unique_ptr<T, FreeWith<&T_free>>.
template <auto Free>
struct FreeWith {
  template <typename T>
  void operator()(T* handle) const {
    Free(handle);
  }
};

using X509Deleter = FreeWith<&X509_free>;
using EvpPkeyDeleter = FreeWith<&EVP_PKEY_free>;
using X509NameDeleter = FreeWith<&X509_NAME_free>;
using EvpPkeyCtxDeleter = FreeWith<&EVP_PKEY_CTX_free>;
using BioDeleter = FreeWith<&BIO_free_all>;
using SslCtxDeleter = FreeWith<&SSL_CTX_free>;
using SslDeleter = FreeWith<&SSL_free>;
using X509StoreDeleter = FreeWith<&X509_STORE_free>;
using X509StoreCtxDeleter = FreeWith<&X509_STORE_CTX_free>;
using X509ExtensionDeleter = FreeWith<&X509_EXTENSION_free>;
using BignumDeleter = FreeWith<&BN_free>;

using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using X509NamePtr = std::unique_ptr<X509_NAME, X509NameDeleter>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using X509StorePtr = std::unique_ptr<X509_STORE, X509StoreDeleter>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, X509StoreCtxDeleter>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, X509ExtensionDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;

// Drains this thread's OpenSSL error queue into one line ("error:...; error:..."), oldest first,
// so a failure reports every reason OpenSSL queued, and a stale entry cannot be blamed on the
// next failure. "no OpenSSL error queued" when the queue was empty.
inline std::string openssl_error() {
  std::string line;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    if (!line.empty()) line += "; ";
    line += text;
  }
  return line.empty() ? "no OpenSSL error queued" : line;
}

}  // namespace cgfw::ca
