// SPDX-License-Identifier: Apache-2.0
// Asio, Asio's OpenSSL layer and Beast, compiled once for the whole project.
#include <utility>

#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
