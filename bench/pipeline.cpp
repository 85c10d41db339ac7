// SPDX-License-Identifier: Apache-2.0
#include "bench/pipeline.hpp"

#include <memory>
#include <vector>

#include "bench/conn.hpp"
#include "bench/proc_stat.hpp"

namespace dstack::bench {

namespace {

struct Run {
  const PipelineSpec* spec;
  Clock::time_point deadline;
  PipelineResult result;
};

void note_error(Run& run, const char* what, error_code ec) {
  if (run.result.error.empty()) run.result.error = std::string(what) + ": " + ec.message();
}

awaitable<void> pump(std::shared_ptr<Run> run, std::shared_ptr<Conn> conn, std::size_t index) {
  const auto& spec = *run->spec;
  std::vector<std::uint64_t> tags;
  tags.reserve(spec.depth);
  while (Clock::now() < run->deadline) {
    std::string batch;
    tags.clear();
    std::uint64_t tag = 0;
    while (tags.size() < spec.depth && spec.next(index, batch, tag)) tags.push_back(tag);
    if (tags.empty()) break;
    auto write = conn->write(std::move(batch));
    if (auto ec = co_await std::move(write)) {
      note_error(*run, "write", ec);
      break;
    }
    auto read = conn->read_responses(tags.size());
    if (auto ec = co_await std::move(read)) {
      note_error(*run, "read", ec);
      break;
    }
    for (std::size_t i = 0; i < tags.size(); ++i)
      ++(spec.done(tags[i], conn->responses()[i]) ? run->result.ok : run->result.failed);
  }
  conn->close();
}

}  // namespace

PipelineResult run_pipeline(const PipelineSpec& spec) {
  asio::io_context io(1);
  auto run = std::make_shared<Run>();
  run->spec = &spec;
  std::vector<std::shared_ptr<Conn>> conns;
  for (std::size_t i = 0; i < spec.connections; ++i) {
    auto conn = std::make_shared<Conn>(io);
    if (auto ec = conn->connect(spec.endpoint)) {
      run->result.error = "connect: " + ec.message();
      return run->result;
    }
    conns.push_back(conn);
  }
  auto cpu_before = cpu_times(spec.server_pid);
  auto start = Clock::now();
  run->deadline = start + spec.limit;
  for (std::size_t i = 0; i < conns.size(); ++i)
    asio::co_spawn(io, pump(run, conns[i], i), asio::detached);
  // A server that stops answering must not hang the run: give up a little after the limit.
  io.run_for(spec.limit + std::chrono::seconds(10));
  if (!io.stopped() && run->result.error.empty())
    run->result.error = "timed out waiting for answers";
  run->result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  auto cpu_after = cpu_times(spec.server_pid);
  if (cpu_before && cpu_after) {
    run->result.server_cpu = cpu_after->ran - cpu_before->ran;
    run->result.server_wait = cpu_after->waited - cpu_before->waited;
  }
  return run->result;
}

}  // namespace dstack::bench
