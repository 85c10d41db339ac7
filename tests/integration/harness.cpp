// SPDX-License-Identifier: Apache-2.0
#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace dstack::test {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Moves every complete chunk from `in` to `out`; sets `last` on the terminating zero chunk.
// Returns false on a malformed chunk header.
bool dechunk(std::string& in, std::string& out, bool& last) {
  while (!last) {
    auto eol = in.find("\r\n");
    if (eol == std::string::npos) return true;
    std::size_t size = 0;
    try {
      size = std::stoul(in.substr(0, eol), nullptr, 16);
    } catch (const std::exception&) {
      return false;
    }
    if (size == 0) {
      last = true;  // trailers, if any, are of no interest
      in.clear();
      return true;
    }
    if (in.size() < eol + 2 + size + 2) return true;
    out.append(in, eol + 2, size);
    in.erase(0, eol + 2 + size + 2);
  }
  return true;
}

}  // namespace

// Ports are picked below the kernel's ephemeral range: a port in it that was free a moment ago
// may meanwhile be the local end of an outgoing connection (HAProxy's health checks make many),
// and then the server meant for it cannot bind. Below the range only explicit binds compete.
std::uint16_t free_port() {
  static std::mutex mutex;
  static std::set<std::uint16_t> handed_out;
  static std::mt19937 random{std::random_device{}()};
  int ephemeral_low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); range) range >> ephemeral_low;
  std::lock_guard<std::mutex> lock(mutex);
  std::uniform_int_distribution<int> pick(10000, std::max(10001, ephemeral_low - 1));
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto port = static_cast<std::uint16_t>(pick(random));
    if (handed_out.count(port)) continue;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fail("socket");
    auto addr = loopback(port);
    bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (!bound) continue;
    handed_out.insert(port);
    return port;
  }
  throw std::runtime_error("no free loopback port below " + std::to_string(ephemeral_low));
}

std::size_t raise_fd_limit(std::size_t want) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) fail("getrlimit");
  if (lim.rlim_cur < want) {
    lim.rlim_cur = std::min<rlim_t>(want, lim.rlim_max);
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) fail("setrlimit");
  }
  return lim.rlim_cur;
}

// ---- TempDir ----------------------------------------------------------------------------

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/dstack-it-XXXXXX";
  if (!::mkdtemp(tmpl.data())) fail("mkdtemp " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path TempDir::write(const std::string& name, const std::string& text) const {
  auto p = path_ / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + p.string());
  return p;
}

int occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (auto at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::pair<std::string, int> shell(const std::string& command) {
  std::string out;
  FILE* f = ::popen((command + " 2>&1").c_str(), "r");
  if (!f) return {"popen failed", -1};
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) out.append(buf, n);
  const int status = ::pclose(f);
  return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

// ---- TestCa -----------------------------------------------------------------------------

namespace {
void openssl(const std::string& args) {
  auto [out, status] = shell("timeout 30 openssl " + args);
  if (status != 0) throw std::runtime_error("openssl " + args + ": " + out);
}
constexpr const char* kEcKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
}  // namespace

TestCa::TestCa(const fs::path& dir, const std::string& name)
    : dir_(dir), cert_(dir / (name + ".pem")), key_(dir / (name + ".key")) {
  openssl(std::string("req -x509 ") + kEcKey + " -days 1 -subj /CN=" + name + " -keyout " +
          key_.string() + " -out " + cert_.string());
}

TestCa::Issued TestCa::issue(const std::string& name) const {
  const Issued issued{dir_ / (name + ".pem"), dir_ / (name + ".key")};
  const auto csr = dir_ / (name + ".csr"), ext = dir_ / (name + ".ext");
  std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  openssl(std::string("req ") + kEcKey + " -subj /CN=" + name + " -keyout " + issued.key.string() +
          " -out " + csr.string());
  openssl("x509 -req -days 1 -in " + csr.string() + " -CA " + cert_.string() + " -CAkey " +
          key_.string() + " -CAcreateserial -extfile " + ext.string() + " -out " +
          issued.cert.string());
  return issued;
}

// ---- Process ----------------------------------------------------------------------------

Process::Process(std::vector<std::string> argv, const fs::path& log_dir) {
  static std::atomic<int> counter{0};
  const std::string stem =
      fs::path(argv.at(0)).filename().string() + "." + std::to_string(counter++);
  out_ = log_dir / (stem + ".stdout");
  err_ = log_dir / (stem + ".stderr");
  // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int out = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || in < 0) fail("open logs in " + log_dir.string());
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) fail("fork");
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    // Sockets a test holds open (thousands, in one test) must not leak into the daemon.
    ::close_range(3, ~0U, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(args[0], args.data());
    const char msg[] = "execv failed\n";
    [[maybe_unused]] auto n = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  ::close(in);
}

Process::~Process() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

void Process::kill(int signal) {
  if (pid_ > 0 && !status_) ::kill(pid_, signal);
}

std::optional<int> Process::wait(Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!status_) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (r < 0 && errno != EINTR) fail("waitpid");
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(2ms);
  }
  return status_;
}

bool Process::running() {
  return !wait(0ms);
}

std::string Process::stdout_text() const {
  return read_file(out_);
}
std::string Process::stderr_text() const {
  return read_file(err_);
}

bool poll_until(Clock::duration timeout, const std::function<bool()>& done,
                Clock::duration interval) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

// ---- Conn -------------------------------------------------------------------------------

Conn::~Conn() {
  close();
}

Conn::Conn(Conn&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Conn& Conn::operator=(Conn&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void Conn::close() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

Conn Conn::connect_async(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Conn();
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  auto addr = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return Conn();
  }
  return Conn(fd);
}

Conn Conn::connect(std::uint16_t port, Clock::duration timeout) {
  Conn c = connect_async(port);
  if (!c.ok()) return c;
  pollfd p{c.fd_, POLLOUT, 0};
  const auto deadline = Clock::now() + timeout;
  int r;
  while ((r = ::poll(&p, 1, remaining_ms(deadline))) < 0 && errno == EINTR) {
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (r != 1 || ::getsockopt(c.fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) c.close();
  return c;
}

bool Conn::send(const std::string& bytes, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) == 0) return false;
      continue;
    }
    return false;
  }
  return fd_ >= 0;
}

std::string Conn::read_some(Clock::duration timeout, bool& eof) {
  eof = false;
  if (fd_ < 0) {
    eof = true;
    return {};
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return {};
    char buf[64 * 1024];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    eof = true;  // 0: orderly close; <0: reset or similar, the same to a client
    return {};
  }
}

std::string Conn::read_all(Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string all;
  bool eof = false;
  while (!eof && Clock::now() < deadline) all += read_some(deadline - Clock::now(), eof);
  return all;
}

bool Conn::closed_by_peer(Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  bool eof = false;
  while (!eof && Clock::now() < deadline) read_some(deadline - Clock::now(), eof);
  return eof;
}

// ---- HTTP -------------------------------------------------------------------------------

std::string Response::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

namespace {
// Parses the status line and headers of `raw` up to `end` (the blank line).
void parse_head(const std::string& raw, std::size_t end, Response& r) {
  std::istringstream lines(raw.substr(0, end));
  std::string line;
  std::getline(lines, line);
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) return;
  r.status = std::atoi(line.c_str() + 9);
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[lower(line.substr(0, colon))] = value;
  }
}
}  // namespace

Response parse_response(const std::string& raw) {
  Response r;
  const auto end = raw.find("\r\n\r\n");
  if (end == std::string::npos) {
    r.error = raw.empty() ? "no answer" : "incomplete answer: " + raw.substr(0, 200);
    return r;
  }
  parse_head(raw, end, r);
  std::string body = raw.substr(end + 4);
  if (lower(r.header("transfer-encoding")).find("chunked") != std::string::npos) {
    bool last = false;
    if (!dechunk(body, r.body, last)) r.error = "malformed chunked body";
  } else if (auto cl = r.header("content-length"); !cl.empty()) {
    r.body = body.substr(0, std::stoul(cl));
  } else {
    r.body = body;
  }
  return r;
}

namespace {
std::string request_text(std::uint16_t port, const std::string& method, const std::string& target,
                         const std::string& body, const Headers& headers) {
  // A caller's Host replaces the default: two Host headers are a 400 in HAProxy.
  bool has_host = false;
  for (auto& [k, v] : headers) has_host = has_host || strcasecmp(k.c_str(), "Host") == 0;
  std::string req = method + " " + target + " HTTP/1.1\r\n";
  if (!has_host) req += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  req += "Connection: close\r\n";
  for (auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || (method != "GET" && method != "HEAD"))
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return req + "\r\n" + body;
}
}  // namespace

Response http(std::uint16_t port, const std::string& method, const std::string& target,
              const std::string& body, const Headers& headers, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  Conn c = Conn::connect(port, timeout);
  if (!c.ok()) {
    Response r;
    r.error = "cannot connect to port " + std::to_string(port);
    return r;
  }
  // A refused write may still have an answer waiting (413 before the body was read): read on.
  c.send(request_text(port, method, target, body, headers), deadline - Clock::now());
  return parse_response(c.read_all(deadline - Clock::now()));
}

LineStream::LineStream(std::uint16_t port, const std::string& target, Clock::duration timeout,
                       const Headers& headers) {
  const auto deadline = Clock::now() + timeout;
  conn_ = Conn::connect(port, timeout);
  if (!conn_.ok() || !conn_.send(request_text(port, "GET", target, "", headers), timeout)) {
    head_.error = "cannot connect or send";
    ended_ = true;
    return;
  }
  bool eof = false;
  std::size_t end;
  while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
    if (eof || Clock::now() >= deadline) {
      head_.error = "no response head within the timeout";
      ended_ = true;
      return;
    }
    raw_ += conn_.read_some(deadline - Clock::now(), eof);
  }
  const std::string head_text = raw_.substr(0, end + 4);
  parse_head(raw_, end, head_);
  raw_.erase(0, end + 4);
  if (head_.status != 200) {
    // An error answer is short and complete: keep it whole, body included.
    head_ = parse_response(head_text + raw_ + conn_.read_all(deadline - Clock::now()));
    ended_ = true;
    return;
  }
  chunked_ = lower(head_.header("transfer-encoding")).find("chunked") != std::string::npos;
}

bool LineStream::fill(Clock::time_point deadline) {
  bool eof = false;
  raw_ += conn_.read_some(deadline - Clock::now(), eof);
  bool last = false;
  if (chunked_) {
    if (!dechunk(raw_, lines_, last)) last = true;
  } else {
    lines_ += raw_;
    raw_.clear();
  }
  if (eof || last) ended_ = true;
  return !ended_;
}

std::optional<std::string> LineStream::next_line(Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (auto nl = lines_.find('\n'); nl != std::string::npos) {
      std::string line = lines_.substr(0, nl);
      lines_.erase(0, nl + 1);
      return line;
    }
    if (ended_ || Clock::now() >= deadline) return std::nullopt;
    fill(deadline);
  }
}

}  // namespace dstack::test
