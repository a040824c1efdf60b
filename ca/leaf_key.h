// The key every leaf of a run shares, made so that minting stays cheap.
#pragma once

#include "ca/openssl_handles.h"
#include "common/result.h"

namespace cgfw::ca {

// A fresh ECDSA P-256 key held as a legacy EC_KEY, not as a provider key. Minting puts the leaf
// key into each certificate (X509_set_pubkey); for a provider key OpenSSL 3 encodes it through
// its encoder framework every time, ~250 us of a ~340 us mint, for a legacy key ~10 us. TLS
// handshakes sign with it as with any other key.
Result<EvpPkeyPtr> generate_leaf_key();

}  // namespace cgfw::ca
