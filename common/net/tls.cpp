// SPDX-License-Identifier: Apache-2.0
#include "common/net/tls.hpp"

#include <utility>

#include <map>
#include <mutex>
#include <tuple>

#include <openssl/err.h>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <stdexcept>

namespace dstack::net {

namespace ssl = boost::asio::ssl;

namespace {
// OpenSSL 3 packs library and reason into one code, which Asio 1.74's message() cannot look up
// ("asio.ssl error"); ERR_error_string_n can.
std::string reason(const boost::system::error_code& ec) {
  if (ec.category() != boost::asio::error::get_ssl_category()) return ec.message();
  char buf[256];
  ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
  return buf;
}

void load(const std::string& what, const std::string& file, auto&& action) {
  boost::system::error_code ec;
  action(ec);
  if (ec) throw std::runtime_error(what + " \"" + file + "\": " + reason(ec));
}
}  // namespace

std::shared_ptr<ssl::context> make_server_context(const ServerTls& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  load("cert", tls.cert, [&](auto& ec) { ctx->use_certificate_chain_file(tls.cert, ec); });
  load("key", tls.key,
       [&](auto& ec) { ctx->use_private_key_file(tls.key, ssl::context::pem, ec); });
  if (!tls.client_ca.empty()) {
    load("client_ca", tls.client_ca, [&](auto& ec) { ctx->load_verify_file(tls.client_ca, ec); });
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

namespace {

std::shared_ptr<ssl::context> new_client_context(const ClientTls& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  if (tls.ca_file.empty()) {
    ctx->set_default_verify_paths();
  } else {
    load("ca_file", tls.ca_file, [&](auto& ec) { ctx->load_verify_file(tls.ca_file, ec); });
  }
  ctx->set_verify_mode(tls.verify ? ssl::verify_peer : ssl::verify_none);
  if (!tls.cert.empty()) {
    // Loaded after the certificate, a key that is not its own is refused here ("key values
    // mismatch") rather than failing every handshake later with a vague alert.
    load("cert", tls.cert, [&](auto& ec) { ctx->use_certificate_chain_file(tls.cert, ec); });
    load("key", tls.key,
         [&](auto& ec) { ctx->use_private_key_file(tls.key, ssl::context::pem, ec); });
  }
  return ctx;
}

}  // namespace

// Loading the system CA bundle takes ~20 ms of CPU; an agent that makes a client for every https
// check would spend that on each one. A context is immutable once made, so one per distinct
// setting is shared for the life of the process (a changed CA file is read on restart).
std::shared_ptr<ssl::context> make_client_context(const ClientTls& tls) {
  static std::mutex mutex;
  static std::map<std::tuple<std::string, bool, std::string, std::string>,
                  std::shared_ptr<ssl::context>>
      cache;
  std::lock_guard lock(mutex);
  auto& slot = cache[{tls.ca_file, tls.verify, tls.cert, tls.key}];
  if (!slot) slot = new_client_context(tls);
  return slot;
}

}  // namespace dstack::net
