// SPDX-License-Identifier: Apache-2.0
#pragma once
// OpenSSL contexts for the server and the client, built from file paths.

#include <memory>
#include <string>

namespace boost::asio::ssl {
class context;
}

namespace dstack::net {

struct ServerTls {
  std::string cert;       // PEM chain
  std::string key;        // PEM private key
  std::string client_ca;  // when set, clients must present a certificate signed by it
};

struct ClientTls {
  std::string ca_file;  // empty: the system CAs
  bool verify = true;
  // A client certificate (PEM chain) and its key, presented to a server that asks for one
  // (the directory's tls.client_ca, etcd's --client-cert-auth). Both or neither.
  std::string cert;
  std::string key;
};

// Throw std::runtime_error naming the file and OpenSSL's reason when a file cannot be used.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const ServerTls& tls);
// Shared per distinct setting: made once, then handed out again (see tls.cpp).
std::shared_ptr<boost::asio::ssl::context> make_client_context(const ClientTls& tls);

}  // namespace dstack::net
