// An asio endpoint as the kernel maps key it: family + 16 address bytes, IPv4-mapped IPv6
// folded to IPv4 (a dual-stack socket's IPv4 peer is an IPv4 client).
#pragma once

#include <netinet/in.h>

#include <algorithm>

#include <asio/ip/address.hpp>

#include "proxy/dns/learned_table.h"

namespace cgfw::proxy {

template <typename Endpoint>
void endpoint_key(const Endpoint& endpoint, int& family, dns::Address& address) {
  address = {};
  auto ip = endpoint.address();
  if (ip.is_v6() && ip.to_v6().is_v4_mapped())
    ip = asio::ip::make_address_v4(asio::ip::v4_mapped, ip.to_v6());
  if (ip.is_v4()) {
    family = AF_INET;
    auto bytes = ip.to_v4().to_bytes();
    std::copy(bytes.begin(), bytes.end(), address.begin());
  } else {
    family = AF_INET6;
    auto bytes = ip.to_v6().to_bytes();
    std::copy(bytes.begin(), bytes.end(), address.begin());
  }
}

}  // namespace cgfw::proxy
