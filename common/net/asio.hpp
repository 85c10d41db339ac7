// SPDX-License-Identifier: Apache-2.0
#pragma once
// The one way Asio enters the project. <utility> must come first: g++ 12 with Boost 1.74 in C++20
// fails to compile Asio's coroutine support without it. Asio is compiled once, in asio_impl.cpp.

#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace dstack {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using error_code = boost::system::error_code;

namespace net {
using tcp = asio::ip::tcp;
}  // namespace net

}  // namespace dstack
