// SPDX-License-Identifier: Apache-2.0
#include "common/net/http_server.hpp"

#include <sys/socket.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <list>
#include <system_error>

#include "common/log/log.hpp"
#include "common/net/http_beast.hpp"
#include "common/net/read_size.hpp"
#include "common/net/response_text.hpp"
#include "common/net/send_batch.hpp"

namespace dstack::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::redirect_error;
using detail::append_response;
using detail::error_json;

struct HttpServer::State {
  State(asio::io_context& io, ServerLimits l) : acceptor(io), limits(l) {}
  tcp::acceptor acceptor;
  ServerLimits limits;
  Handler handler;  // one of these two
  AsyncHandler async_handler;
  std::shared_ptr<ssl::context> tls;
  ServerStats stats;
  bool stopping = false;
  std::list<std::function<void()>> closers;  // one per open connection, to close them on stop()
  std::shared_ptr<spdlog::logger> log = log::get("http");
};

namespace {

using State = HttpServer::State;

// Counts the connection and lets stop() close it, for as long as the session runs.
class Registration {
 public:
  Registration(std::shared_ptr<State> st, std::function<void()> closer) : st_(std::move(st)) {
    it_ = st_->closers.insert(st_->closers.end(), std::move(closer));
    ++st_->stats.connections_open;
    ++st_->stats.connections_total;
  }
  ~Registration() {
    st_->closers.erase(it_);
    --st_->stats.connections_open;
  }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  std::shared_ptr<State> st_;
  std::list<std::function<void()>>::iterator it_;
};

// A watch stream's server side. Chunks come framed (frame_chunk), shared by every stream. A
// stream whose writer is idle with nothing queued, on a plain TCP socket, gets the chunk in one
// non-blocking send there and then: most watchers keep up, and this spares waking their writer
// coroutine, arming a write timer and copying the chunk, once per watcher per event. With a
// SendBatch those sends, one per watcher, go in one system call. Whatever the socket does not
// take at once is queued for the writer, which has a write timeout.
class Sink final : public StreamSink {
 public:
  // `socket`: the plain TCP socket to send to directly; null (TLS) to always go through the
  // writer. It outlives the sink's use: the stream ends before the connection goes.
  Sink(asio::any_io_executor ex, std::size_t limit, tcp::socket* socket)
      : signal_(ex), limit_(limit), socket_(socket) {}

  bool write(Chunk chunk) override {
    if (ended_ || close_requested_) return false;
    if (!can_send_directly()) return queue(std::move(chunk), 0);
    const ssize_t n =
        ::send(socket_->native_handle(), chunk->data(), chunk->size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    return sent(chunk, n >= 0 ? static_cast<long>(n) : -static_cast<long>(errno));
  }
  bool write(const Chunk& chunk, SendBatch& batch) override {
    if (ended_ || close_requested_) return false;
    if (!can_send_directly()) return queue(chunk, 0);
    batch.add(socket_->native_handle(), chunk->data(), chunk->size(),
              static_cast<StreamSink*>(this));
    return true;
  }
  bool sent(const Chunk& chunk, long result) override {
    if (result == static_cast<long>(chunk->size())) return true;
    if (result == -ECANCELED) {  // unknown whether it went: the watcher resumes from a revision
      end();
      return true;
    }
    // Part of it went, or none (the socket is full, or failed: the writer finds out which).
    return queue(chunk, result > 0 ? static_cast<std::size_t>(result) : 0);
  }
  void close() override {
    close_requested_ = true;
    signal_.cancel();
  }
  bool closed() const override { return ended_ || close_requested_; }
  void on_close(std::function<void()> callback) override { on_close_ = std::move(callback); }

  // Whether a chunk may go straight to the socket: a plain one, whose writer waits with nothing
  // queued (so the bytes stay in order). Not once the server has closed the socket on stop:
  // its number may be another's by now.
  bool can_send_directly() const {
    return socket_ != nullptr && idle_ && queue_.empty() && socket_->is_open();
  }
  // Queues what of `chunk` the socket did not take (all but its first `sent` bytes).
  bool queue(Chunk chunk, std::size_t sent) {
    const std::size_t left = chunk->size() - sent;
    if (queued_bytes_ + left > limit_) {
      end();  // a reader this far behind resumes from a revision instead
      return false;
    }
    if (queue_.empty()) first_offset_ = sent;
    queued_bytes_ += left;
    queue_.push_back(std::move(chunk));
    if (idle_) signal_.cancel();
    return true;
  }

  void end() {
    if (ended_) return;
    ended_ = true;
    signal_.cancel();
    if (auto cb = std::move(on_close_)) cb();
  }

  std::vector<Chunk> queue_;      // a vector: swapped with the one being sent, no allocation
  std::size_t first_offset_ = 0;  // bytes of queue_.front() already sent directly
  std::size_t queued_bytes_ = 0;
  bool ended_ = false;
  bool close_requested_ = false;
  bool idle_ = false;  // the writer waits on signal_ with nothing to send (no write in flight)
  asio::steady_timer signal_;

 private:
  std::size_t limit_;
  tcp::socket* socket_;
  std::function<void()> on_close_;
};

template <class Stream>
tcp::socket& socket_of(Stream& stream) {
  return beast::get_lowest_layer(stream).socket();
}

template <class Stream>
awaitable<void> run_stream(std::shared_ptr<State> st, Stream& stream, HttpResponse resp,
                           unsigned version) {
  auto& lowest = beast::get_lowest_layer(stream);
  tcp::socket* plain = nullptr;
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) plain = &socket_of(stream);
  auto sink = std::make_shared<Sink>(stream.get_executor(), st->limits.max_stream_buffer, plain);
  ++st->stats.streams_open;
  resp.start_stream(sink);

  http::response<http::empty_body> res{static_cast<http::status>(resp.status), version};
  res.set(http::field::content_type, resp.content_type);
  res.set(http::field::cache_control, "no-cache");
  for (auto& [k, v] : resp.headers) res.set(k, v);
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  error_code ec;
  lowest.expires_after(st->limits.write_timeout);
  auto write_header = http::async_write_header(stream, sr, redirect_error(use_awaitable, ec));
  co_await std::move(write_header);
  std::vector<StreamSink::Chunk> sending;
  std::vector<asio::const_buffer> buffers;

  while (!ec && !sink->ended_) {
    if (sink->queue_.empty()) {
      if (sink->close_requested_) {
        lowest.expires_after(st->limits.write_timeout);
        auto write_last =
            asio::async_write(stream, http::make_chunk_last(), redirect_error(use_awaitable, ec));
        co_await std::move(write_last);
        break;
      }
      sink->signal_.expires_at(asio::steady_timer::time_point::max());
      sink->idle_ = true;
      error_code wait_ec;
      auto wait = sink->signal_.async_wait(redirect_error(use_awaitable, wait_ec));
      co_await std::move(wait);
      sink->idle_ = false;
      continue;
    }
    // Everything queued goes out in one write: fewer syscalls when events come in bursts.
    // Swap, not copy: with a thousand watchers every shared_ptr copy is two atomic operations,
    // and both vectors keep their capacity from one event to the next.
    sending.swap(sink->queue_);
    const std::size_t offset = std::exchange(sink->first_offset_, 0);
    sink->queued_bytes_ = 0;
    buffers.clear();
    for (auto& c : sending) buffers.emplace_back(c->data(), c->size());
    buffers.front() += offset;
    lowest.expires_after(st->limits.write_timeout);
    auto write = asio::async_write(stream, buffers, redirect_error(use_awaitable, ec));
    co_await std::move(write);
    sending.clear();
  }
  sink->end();
  --st->stats.streams_open;
}

// Writes what is pending, if anything. False when the connection failed.
template <class Stream>
awaitable<bool> flush(std::shared_ptr<State> st, Stream& stream, std::string& pending) {
  if (pending.empty()) co_return true;
  error_code ec;
  beast::get_lowest_layer(stream).expires_after(st->limits.write_timeout);
  auto write = asio::async_write(stream, asio::buffer(pending), redirect_error(use_awaitable, ec));
  co_await std::move(write);
  pending.clear();
  co_return !ec;
}

// True when the buffer already holds the whole header of another request, so its answer can
// join the pending ones; otherwise waiting for it must not hold back answers already made.
bool next_header_buffered(const beast::flat_buffer& buffer) {
  auto data = buffer.data();
  std::string_view bytes(static_cast<const char*>(data.data()), data.size());
  return bytes.find("\r\n\r\n") != std::string_view::npos;
}

HttpResponse handler_failed(State& st, const HttpRequest& r, const std::exception& e) {
  st.log->error("handler failed on {} {}: {}", r.method, r.target, e.what());
  return {500, "application/json", error_json("internal", "internal error")};
}

// `authorization_buffer`: the connection's (RequestParser), handed back for its next request.
HttpResponse call_handler(State& st, detail::RequestParser& parser, const std::string& remote,
                          std::string& authorization_buffer) {
  HttpRequest r;
  HttpResponse bad;
  if (!detail::to_request(parser, remote, r, bad)) return bad;
  // Handed back once the answer is made, on the way out (the answer is returned in place).
  struct HandBack {
    HttpRequest& r;
    std::string& buffer;
    ~HandBack() {
      if (r.authorization) buffer = std::move(*r.authorization);
    }
  } hand_back{r, authorization_buffer};
  try {
    return st.handler(r);
  } catch (const std::exception& e) {
    return handler_failed(st, r, e);
  }
}

awaitable<HttpResponse> call_async_handler(State& st, detail::RequestParser& parser,
                                           const std::string& remote) {
  HttpRequest r;
  HttpResponse bad;
  if (!detail::to_request(parser, remote, r, bad)) co_return bad;
  HttpRequest copy = r;  // the handler owns its request across its waits; `r` stays for the log
  try {
    auto answer = st.async_handler(std::move(copy));
    co_return co_await std::move(answer);
  } catch (const std::exception& e) {
    co_return handler_failed(st, r, e);
  }
}

// One connection: requests in order, keep-alive, a timeout on every wait.
template <class Stream>
awaitable<void> serve(std::shared_ptr<State> st, Stream stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  Registration reg(st, [&lowest] { lowest.close(); });
  error_code ec;
  std::string remote;
  if (auto ep = socket_of(stream).remote_endpoint(ec); !ec)
    remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  const auto& limits = st->limits;

  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    lowest.expires_after(limits.request_timeout);
    auto handshake =
        stream.async_handshake(ssl::stream_base::server, redirect_error(use_awaitable, ec));
    co_await std::move(handshake);
    if (ec) {
      st->log->debug("tls handshake with {} failed: {}", remote, ec.message());
      co_return;
    }
  }

  beast::flat_buffer buffer;
  ReadSize read_size;
  std::string pending;  // answers not yet written
  constexpr std::size_t kMaxPending = 64 << 10;
  // Each request with a token carries it: one allocation for the connection, not one each
  // (docs/benchmarks.md#access-controls-cost).
  std::string authorization_buffer;
  for (;;) {
    if (buffer.size() == 0) {
      // A connection back to single requests gives its large buffer back.
      if (buffer.capacity() > 2 * read_size.next()) buffer.shrink_to_fit();
      // Idle between requests: the longer idle timeout applies until the first byte arrives.
      lowest.expires_after(limits.idle_timeout);
      auto read = stream.async_read_some(buffer.prepare(read_size.next()),
                                         redirect_error(use_awaitable, ec));
      auto n = co_await std::move(read);
      if (ec) break;
      buffer.commit(n);
      read_size.got(n);
    }
    lowest.expires_after(limits.request_timeout);
    // The same steps as read_requests() (http_parse.hpp), which the fuzz targets run.
    detail::RequestParser parser(authorization_buffer);
    detail::limit_request(parser, limits.max_header, limits.max_body);
    auto read_header =
        http::async_read_header(stream, buffer, parser, redirect_error(use_awaitable, ec));
    co_await std::move(read_header);
    if (!ec && parser.get()[http::field::expect] == "100-continue" && !parser.is_done()) {
      pending += "HTTP/1.1 100 Continue\r\n\r\n";
      auto flushed = flush(st, stream, pending);
      if (!co_await std::move(flushed)) break;
    }
    if (!ec && !parser.is_done()) {
      auto read = http::async_read(stream, buffer, parser, redirect_error(use_awaitable, ec));
      co_await std::move(read);
    }
    if (ec == http::error::end_of_stream) break;
    if (ec) {
      ++st->stats.bad_requests;
      if (auto answer = detail::read_error_answer(ec))
        append_response(pending, *answer, 11, false);
      else
        st->log->debug("connection from {} dropped mid-request: {}", remote, ec.message());
      break;
    }
    ++st->stats.requests_total;
    auto& req = parser.get();
    HttpResponse resp;
    if (st->async_handler) {
      // Answers already made leave now rather than wait behind one that may take a while.
      auto flushed = flush(st, stream, pending);
      if (!co_await std::move(flushed)) break;
      lowest.expires_never();
      auto answer = call_async_handler(*st, parser, remote);
      resp = co_await std::move(answer);
    } else {
      // The directory's path: no coroutine frame.
      resp = call_handler(*st, parser, remote, authorization_buffer);
    }
    if (resp.start_stream) {
      auto flushed = flush(st, stream, pending);
      if (co_await std::move(flushed)) {
        auto run = run_stream(st, stream, std::move(resp), req.version());
        co_await std::move(run);
      }
      break;
    }
    bool keep_alive = req.keep_alive() && !st->stopping;
    append_response(pending, resp, req.version(), keep_alive, req.method() == http::verb::head);
    if (!keep_alive) break;
    if (!next_header_buffered(buffer) || pending.size() >= kMaxPending) {
      auto flushed = flush(st, stream, pending);
      if (!co_await std::move(flushed)) break;
    }
  }
  auto flushed = flush(st, stream, pending);
  co_await std::move(flushed);

  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
  } else {
    lowest.expires_after(std::chrono::seconds(1));
    auto shutdown = stream.async_shutdown(redirect_error(use_awaitable, ec));
    co_await std::move(shutdown);
  }
}

// Over max_connections: a clear answer instead of a silent hang, then close.
awaitable<void> refuse(std::shared_ptr<State> st, beast::tcp_stream stream) {
  std::string answer;
  append_response(
      answer,
      {503, "application/json",
       error_json("too_many_connections", "the server is at its max_connections limit")},
      11, false);
  auto flushed = flush(st, stream, answer);
  co_await std::move(flushed);
}

awaitable<void> accept_loop(std::shared_ptr<State> st) {
  for (;;) {
    error_code ec;
    auto accept = st->acceptor.async_accept(redirect_error(use_awaitable, ec));
    tcp::socket sock = co_await std::move(accept);
    if (st->stopping) co_return;
    if (ec) {
      // Out of descriptors or similar: back off briefly instead of spinning.
      st->log->warn("accept failed: {}", ec.message());
      asio::steady_timer pause(st->acceptor.get_executor(), std::chrono::milliseconds(50));
      auto wait = pause.async_wait(redirect_error(use_awaitable, ec));
      co_await std::move(wait);
      continue;
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto ex = sock.get_executor();
    if (st->stats.connections_open >= st->limits.max_connections) {
      ++st->stats.connections_refused;
      if (st->tls) continue;  // cannot answer in plain text on a TLS port; closing is the answer
      asio::co_spawn(ex, refuse(st, beast::tcp_stream(std::move(sock))), asio::detached);
      continue;
    }
    if (st->tls) {
      asio::co_spawn(ex, serve(st, beast::ssl_stream<beast::tcp_stream>(std::move(sock), *st->tls)),
                     asio::detached);
    } else {
      asio::co_spawn(ex, serve(st, beast::tcp_stream(std::move(sock))), asio::detached);
    }
  }
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, ServerLimits limits, Handler handler,
                       std::optional<ServerTls> tls)
    : state_(std::make_shared<State>(io, limits)) {
  state_->handler = std::move(handler);
  if (tls) state_->tls = make_server_context(*tls);
}

HttpServer::HttpServer(asio::io_context& io, ServerLimits limits, AsyncHandler handler)
    : state_(std::make_shared<State>(io, limits)) {
  state_->async_handler = std::move(handler);
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::listen(const std::string& host, std::uint16_t port) {
  error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    // A name: resolve it once, at start.
    tcp::resolver resolver(state_->acceptor.get_executor());
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) throw std::system_error(ec, "cannot resolve listen address " + host);
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(address, port);
  auto& a = state_->acceptor;
  a.open(ep.protocol());
  a.set_option(tcp::acceptor::reuse_address(true));
  a.bind(ep, ec);
  if (ec) throw std::system_error(ec, "cannot listen on " + host + ":" + std::to_string(port));
  a.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(a.get_executor(), accept_loop(state_), asio::detached);
}

std::uint16_t HttpServer::port() const {
  return state_->acceptor.local_endpoint().port();
}

void HttpServer::stop() {
  if (state_->stopping) return;
  state_->stopping = true;
  error_code ec;
  state_->acceptor.close(ec);
  // Closing may run session code that erases from the list: iterate over a copy.
  auto closers = state_->closers;
  for (auto& close : closers) close();
}

const ServerStats& HttpServer::stats() const {
  return state_->stats;
}

}  // namespace dstack::net
