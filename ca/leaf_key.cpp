// EC_KEY is deprecated in OpenSSL 3, and used here on purpose (see leaf_key.h); only this file
// may touch the deprecated API.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "ca/leaf_key.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>

namespace cgfw::ca {

Result<EvpPkeyPtr> generate_leaf_key() {
  EC_KEY* ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  EvpPkeyPtr key(EVP_PKEY_new());
  if (!ec || !key || EC_KEY_generate_key(ec) != 1 || EVP_PKEY_assign_EC_KEY(key.get(), ec) != 1) {
    EC_KEY_free(ec);
    return make_error("generating the ECDSA P-256 leaf key failed: " + openssl_error());
  }
  return key;
}

}  // namespace cgfw::ca
