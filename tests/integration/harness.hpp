// SPDX-License-Identifier: Apache-2.0
#pragma once
// What every integration test needs to drive a real binary on loopback: a free port, a temp dir
// that cleans itself up, a child process that is always killed and reaped, polling with a
// deadline, and a tiny blocking HTTP/1.1 client over POSIX sockets. The client is hand-written
// (no Beast) so it compiles fast and can also send what no real client would.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dstack::test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A loopback TCP port that was free a moment ago, below the ephemeral range, never handed out
// before in this process.
std::uint16_t free_port();

// Raises RLIMIT_NOFILE's soft limit to at least `want` (up to the hard limit); returns the new
// soft limit.
std::size_t raise_fd_limit(std::size_t want);

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to path()/name and returns the full path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& path);
// How many times `needle` occurs in `text`, not overlapping.
int occurrences(const std::string& text, const std::string& needle);

// Runs `command` with sh -c, stderr into stdout: {output, exit status; -1 when it did not exit}.
std::pair<std::string, int> shell(const std::string& command);

// A throwaway certificate authority made with the openssl command in `dir` (ECDSA P-256, valid
// for a day), for TLS tests. Throws when openssl fails.
class TestCa {
 public:
  TestCa(const std::filesystem::path& dir, const std::string& name);
  // A certificate for `name` signed by this CA, valid for the IP 127.0.0.1 and `localhost`.
  struct Issued {
    std::filesystem::path cert, key;
  };
  Issued issue(const std::string& name) const;
  const std::filesystem::path& cert() const { return cert_; }

 private:
  std::filesystem::path dir_, cert_, key_;
};

// A child process (fork + execv) with stdout and stderr going to files in `log_dir`. The
// destructor SIGKILLs and reaps it if it still runs, so a failing test never leaks one; the child
// also dies with the test process (PR_SET_PDEATHSIG).
class Process {
 public:
  Process(std::vector<std::string> argv, const std::filesystem::path& log_dir);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void kill(int signal);
  // The exit status once the process ends within `timeout` (a signal N reads as 128 + N), else
  // nullopt and the process keeps running.
  std::optional<int> wait(Clock::duration timeout);
  bool running();
  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::filesystem::path out_, err_;
};

// Calls `done` every `interval` until it returns true (true) or `timeout` passes (false).
bool poll_until(Clock::duration timeout, const std::function<bool()>& done,
                Clock::duration interval = 10ms);

// ---- HTTP -------------------------------------------------------------------------------

struct Response {
  int status = 0;     // 0: no answer (connection refused, closed or timed out before a status line)
  std::string error;  // why status is 0
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // de-chunked
  std::string header(const std::string& name) const;
};

// Parses a complete raw HTTP response (status line, headers, body by Content-Length or chunked or
// until the end). status 0 when `raw` holds no status line.
Response parse_response(const std::string& raw);

// A connected loopback socket with deadlines on every wait; the raw tool for adversarial tests.
class Conn {
 public:
  Conn() = default;
  explicit Conn(int fd) : fd_(fd) {}
  ~Conn();
  Conn(Conn&& other) noexcept;
  Conn& operator=(Conn&& other) noexcept;

  // Blocking connect to 127.0.0.1:port; an unconnected Conn (ok() false) on failure.
  static Conn connect(std::uint16_t port, Clock::duration timeout = 5s);
  // Starts a non-blocking connect and returns at once; for opening thousands of sockets.
  static Conn connect_async(std::uint16_t port);

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // False when the peer is gone or the timeout passes before everything is written.
  bool send(const std::string& bytes, Clock::duration timeout = 5s);
  // Whatever arrives until the peer closes or `timeout` passes.
  std::string read_all(Clock::duration timeout);
  // Reads what is there within `timeout` (at most one recv); empty on timeout. Sets `eof` when
  // the peer has closed (or reset) the connection.
  std::string read_some(Clock::duration timeout, bool& eof);
  // True once the peer has closed the connection (EOF or reset), reading and dropping any data.
  bool closed_by_peer(Clock::duration timeout);
  void close();

 private:
  int fd_ = -1;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection with `Connection: close`; reads the answer to the end.
Response http(std::uint16_t port, const std::string& method, const std::string& target,
              const std::string& body = "", const Headers& headers = {},
              Clock::duration timeout = 5s);

// A streaming GET (the watch endpoint): reads the head at start, then hands out the body's
// newline-terminated lines as they arrive, de-chunking on the way.
class LineStream {
 public:
  LineStream(std::uint16_t port, const std::string& target, Clock::duration timeout = 5s,
             const Headers& headers = {});
  const Response& head() const { return head_; }  // status and headers; body only if not 200
  // The next line without its '\n', or nullopt when the stream ends or `timeout` passes.
  std::optional<std::string> next_line(Clock::duration timeout);
  bool ended() const { return ended_; }
  void close() { conn_.close(); }

 private:
  bool fill(Clock::time_point deadline);  // moves decoded bytes from raw_ into lines_
  Conn conn_;
  Response head_;
  std::string raw_;    // bytes received, not yet de-chunked
  std::string lines_;  // de-chunked bytes, not yet handed out
  bool chunked_ = false;
  bool ended_ = false;
};

}  // namespace dstack::test
