// SPDX-License-Identifier: Apache-2.0
// HTTP as the server and the client read it (common/net/http_parse.hpp runs the socket code's
// parser, limits and checks on bytes): what a handler gets, what the server answers by itself,
// and what a client makes of an answer or a stream, whatever sizes the bytes arrive in.

#include "common/net/http_parse.hpp"
#include "common/net/http.hpp"
#include "common/net/read_size.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace dstack::net {
namespace {

using ::testing::ElementsAre;

constexpr std::size_t kWhole = 1 << 16;  // everything in one read

TEST(ReadRequests, PipelinedRequestsComeOutInOrderUntilTheConnectionCloses) {
  const std::string bytes =
      "PUT /v1/routes/emitter?consumer=monolith HTTP/1.1\r\nHost: d\r\n"
      "Authorization: Bearer s3cret\r\nContent-Length: 2\r\n\r\n{}"
      "GET /v1/health HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"
      "GET /v1/never HTTP/1.1\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{7}, kWhole}) {
    auto reads = read_requests(bytes, 1024, 1024, piece);
    ASSERT_EQ(reads.size(), 2u) << piece;
    ASSERT_TRUE(reads[0].request);
    EXPECT_EQ(reads[0].request->method, "PUT");
    EXPECT_EQ(reads[0].request->path, "/v1/routes/emitter");
    EXPECT_EQ(reads[0].request->query_param("consumer"), "monolith");
    EXPECT_EQ(reads[0].request->authorization, "Bearer s3cret");
    EXPECT_EQ(reads[0].request->body, "{}");
    EXPECT_TRUE(reads[0].keep_alive);
    ASSERT_TRUE(reads[1].request);
    EXPECT_EQ(reads[1].request->target, "/v1/health");
    EXPECT_FALSE(reads[1].keep_alive);
  }
}

// Names in any case; a field sent twice counts as first sent (what a proxy in front adds after
// the client's own does not replace it).
TEST(ReadRequests, TheFirstAuthorizationAndAcceptEncodingCountInAnyCase) {
  auto reads = read_requests(
      "GET /v1/snapshot HTTP/1.1\r\nHost: d\r\nACCEPT-encoding: gzip\r\n"
      "authorization: Bearer first\r\nAuthorization: Bearer second\r\n"
      "Accept-Encoding: br\r\n\r\n",
      1024, 1024, kWhole);
  ASSERT_EQ(reads.size(), 1u);
  ASSERT_TRUE(reads[0].request);
  EXPECT_EQ(reads[0].request->authorization, "Bearer first");
  EXPECT_EQ(reads[0].request->accept_encoding, "gzip");

  auto none = read_requests("GET /v1/snapshot HTTP/1.1\r\nHost: d\r\n\r\n", 1024, 1024, kWhole);
  ASSERT_TRUE(none.at(0).request);
  EXPECT_EQ(none[0].request->authorization, std::nullopt);
  EXPECT_EQ(none[0].request->accept_encoding, "");

  // An empty field is one that came: the directory refuses it as malformed (docs/security.md).
  auto empty =
      read_requests("GET /v1/snapshot HTTP/1.1\r\nAuthorization:  \r\n\r\n", 1024, 1024, kWhole);
  ASSERT_TRUE(empty.at(0).request);
  EXPECT_EQ(empty[0].request->authorization, "");
}

// A trailer is not the header: an Authorization field after a chunked body is no token.
TEST(ReadRequests, FieldsOfAChunkedBodysTrailerAreDropped) {
  const std::string chunked =
      "PUT /v1/routes/emitter HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n";
  const std::string body_and_trailer =
      "2\r\n{}\r\n0\r\nAuthorization: Bearer trailer\r\nAccept-Encoding: gzip\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, kWhole}) {
    auto only_trailer = read_requests(chunked + "\r\n" + body_and_trailer, 1024, 1024, piece);
    ASSERT_EQ(only_trailer.size(), 1u) << piece;
    ASSERT_TRUE(only_trailer[0].request) << piece;
    EXPECT_EQ(only_trailer[0].request->body, "{}");
    EXPECT_EQ(only_trailer[0].request->authorization, std::nullopt) << piece;
    EXPECT_EQ(only_trailer[0].request->accept_encoding, "") << piece;

    auto both = read_requests(chunked + "Authorization: Bearer header\r\n\r\n" + body_and_trailer,
                              1024, 1024, piece);
    ASSERT_TRUE(both.at(0).request) << piece;
    EXPECT_EQ(both[0].request->authorization, "Bearer header") << piece;
  }
}

TEST(ReadRequests, TheServerAnswersOversizeAndMalformedRequestsItself) {
  auto body = read_requests("PUT / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 1024, 1024, kWhole);
  ASSERT_EQ(body.size(), 1u);
  ASSERT_TRUE(body[0].answer);
  EXPECT_EQ(body[0].answer->status, 413);
  EXPECT_EQ(
      body[0].answer->body,
      R"({"error":"body_too_large","message":"request body is larger than the configured max_body"})");

  auto header = read_requests("GET / HTTP/1.1\r\nX: " + std::string(2000, 'x') + "\r\n\r\n", 1024,
                              1024, kWhole);
  ASSERT_EQ(header.size(), 1u);
  EXPECT_EQ(header[0].answer->status, 431);

  auto junk = read_requests("HELLO\r\n\r\n", 1024, 1024, kWhole);
  ASSERT_EQ(junk.size(), 1u);
  EXPECT_EQ(junk[0].answer->status, 400);
  EXPECT_FALSE(junk[0].keep_alive);

  // A bad query is answered, and the connection goes on.
  auto query = read_requests("GET /v1/routes?x=%zz HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", 1024,
                             1024, kWhole);
  ASSERT_EQ(query.size(), 2u);
  EXPECT_EQ(query[0].answer->body,
            R"({"error":"bad_request","message":"malformed percent-encoding in the query"})");
  EXPECT_TRUE(query[0].keep_alive);
  EXPECT_TRUE(query[1].request);
}

TEST(ReadResponse, TheBodyIsBoundedEvenWhereBeastDoesNotBoundIt) {
  auto r = read_response("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 4096, kWhole);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "response_too_large");
  EXPECT_EQ(r.error().message, "peer: response larger than 4096");
  auto unsized = read_response("HTTP/1.0 200 OK\r\n\r\n" + std::string(5000, 'x'), 4096, kWhole);
  ASSERT_FALSE(unsized);
  EXPECT_EQ(unsized.error().code, "response_too_large");
}

// Found by http_response_fuzz (docs/fuzzing.md): Beast 1.74 asserts when an empty chunked body
// ("0\r\n" right after the header) is followed by a read of a single byte, so builds that check
// asserts (Debug, the sanitizer suite) aborted on an answer that arrived that way.
// common/net/boost_assert.cpp lets that one assert pass; builds with NDEBUG never checked it.
TEST(ReadResponse, ChunkedAnswersReadOneByteAtATime) {
  const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{2}, kWhole}) {
    auto empty = read_response(head + "0\r\n\r\n", 4096, piece);
    ASSERT_TRUE(empty) << piece << ": " << empty.error().message;
    EXPECT_EQ(empty->status, 200);
    EXPECT_EQ(empty->body, "");
    auto two = read_response(head + "7\r\n{\"id\":1\r\n1\r\n}\r\n0\r\n\r\n", 4096, piece);
    ASSERT_TRUE(two) << piece << ": " << two.error().message;
    EXPECT_EQ(two->body, "{\"id\":1}");
  }
}

TEST(ReadStream, LinesOfAChunkedStreamWhateverTheChunking) {
  const std::string stream =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\n{\"a\"\r\n7\r\n:1}\n{\"b\r\n5\r\n\":2}\n\r\n0\r\n\r\n";
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, kWhole}) {
    auto r = read_stream(stream, 1024, piece);
    EXPECT_EQ(r.status, 200);
    EXPECT_THAT(r.lines, ElementsAre("{\"a\":1}", "{\"b\":2}"));
    EXPECT_EQ(r.end.code, "stream_ended");
  }
}

TEST(ReadStream, ALineOverMaxLineEndsTheStream) {
  auto r = read_stream("HTTP/1.0 200 OK\r\n\r\nshort\n" + std::string(3000, 'x'), 1024, 512);
  EXPECT_THAT(r.lines, ElementsAre("short"));
  EXPECT_EQ(r.end.code, "line_too_long");
  EXPECT_EQ(r.end.message, "peer: streamed line longer than 1024");
}

TEST(ReadStream, AStreamCutMidLineIsAnError) {
  auto r = read_stream("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"a\":1", 1024,
                       kWhole);
  EXPECT_TRUE(r.lines.empty());
  EXPECT_EQ(r.end.code, "unreachable");
}

// The server's read size (common/net/read_size.hpp): it grows while a pipelining client fills
// every read, to the cap, and goes back down once the client sends one request at a time.
TEST(ReadSize, GrowsForAPipeliningClientAndShrinksBack) {
  ReadSize size;
  EXPECT_EQ(size.next(), 4096u);
  size.got(300);  // one request: no change
  EXPECT_EQ(size.next(), 4096u);
  for (std::size_t expected : {8192u, 16384u, 32768u, 65536u, 65536u}) {
    size.got(size.next());
    EXPECT_EQ(size.next(), expected);
  }
  size.got(40000);  // a partly filled read keeps the size
  EXPECT_EQ(size.next(), 65536u);
  for (std::size_t expected : {32768u, 16384u, 8192u, 4096u, 4096u}) {
    size.got(300);
    EXPECT_EQ(size.next(), expected);
  }
}

// What a browser sends decides whether the console's files go gzip-compressed.
TEST(AcceptEncoding, GzipOrAnyCodingWithoutAZeroQAdmitsGzip) {
  for (const char* yes : {"gzip", "gzip, deflate, br, zstd", "br;q=1.0, GZIP ; q=0.5", "*",
                          "identity, *;q=0.1", "gzip;q=1", "gzip;level=9"})
    EXPECT_TRUE(accepts_gzip(yes)) << yes;
  for (const char* no :
       {"", "identity", "br, deflate", "gzip;q=0", "gzip; q=0.000", "*;q=0", "x-gzip", "gzipped"})
    EXPECT_FALSE(accepts_gzip(no)) << no;
}

}  // namespace
}  // namespace dstack::net
