// SPDX-License-Identifier: Apache-2.0
#include "directory/route_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "directory/policy_log_format.hpp"
#include "directory/policy_store.hpp"
#include "directory/route_log_format.hpp"
#include "unit/file_size_limit.hpp"
#include "unit/temp_dir.hpp"

namespace dstack::directory {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Routes = std::map<RouteStore::Key, model::Route>;

using test::TempDir;

model::Route route(std::string service, std::string consumer,
                   std::vector<model::RouteTarget> targets = {{"1", 90}, {"2", 10}},
                   std::uint64_t revision = 0) {
  return {std::move(service), std::move(consumer), std::move(targets), revision};
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// One operation done to a store, replayed against a plain map to know what it should hold.
struct Step {
  bool remove;
  model::Route route;
};

void replay(Routes& routes, const Step& step) {
  const RouteStore::Key key{step.route.service, step.route.consumer};
  if (step.remove)
    routes.erase(key);
  else
    routes[key] = step.route;
}

const std::vector<Step>& steps() {
  static const std::vector<Step> all = {
      {false, route("web", "")},
      {false, route("web", "billing", {{"2", 100}}, 7)},
      {false, route("api", "", {{"1", 50}, {"2", 30}, {"3", 20}}, 8)},
      {false, route("web", "", {{"3", 100}}, 9)},  // overwrite
      {true, route("web", "billing")},
      {false, route("caf\xc3\xa9", "\xe2\x98\x83", {{"v\"2", 0}}, 10)},
      {true, route("api", "")},
      {false, route("api", "", {{"1", 1}}, 12)},
  };
  return all;
}

// Applies steps() to a fresh store in `dir`; returns the file size after each one.
std::vector<std::uint64_t> build(const fs::path& dir) {
  auto store = RouteStore::open(dir);
  std::vector<std::uint64_t> ends;
  for (const auto& step : steps()) {
    const auto ec =
        step.remove ? store.remove(step.route.service, step.route.consumer) : store.put(step.route);
    EXPECT_FALSE(ec) << ec.message();
    ends.push_back(store.file_size());
  }
  return ends;
}

Routes expected_after(std::size_t count) {
  Routes routes;
  for (std::size_t i = 0; i < count; ++i) replay(routes, steps()[i]);
  return routes;
}

std::string refusal(const fs::path& file, const std::string& problem) {
  return file.string() + ": " + problem + "; refusing to load (move the file away to start empty)";
}

std::string open_error(const fs::path& dir) {
  try {
    RouteStore::open(dir);
  } catch (const StoreError& e) {
    return e.what();
  }
  return "(opened)";
}

TEST(RouteStore, PutGetRemoveAndDistinctConsumerKeys) {
  TempDir tmp;
  auto store = RouteStore::open(tmp.path());
  EXPECT_TRUE(store.routes().empty());

  ASSERT_FALSE(store.put(route("web", "")));
  ASSERT_FALSE(store.put(route("web", "billing", {{"2", 100}}, 42)));
  EXPECT_EQ(store.get("web", ""), route("web", ""));
  EXPECT_EQ(store.get("web", "billing"), route("web", "billing", {{"2", 100}}, 42));
  EXPECT_EQ(store.routes().size(), 2u);

  ASSERT_FALSE(store.put(route("web", "", {{"3", 100}})));
  EXPECT_EQ(store.get("web", ""), route("web", "", {{"3", 100}}));
  EXPECT_EQ(store.get("web", "billing"), route("web", "billing", {{"2", 100}}, 42));

  ASSERT_FALSE(store.remove("web", "billing"));
  EXPECT_EQ(store.get("web", "billing"), std::nullopt);
  EXPECT_EQ(store.get("web", ""), route("web", "", {{"3", 100}}));
  EXPECT_EQ(store.get("other", ""), std::nullopt);
}

TEST(RouteStore, ReopenRestoresExactly) {
  TempDir tmp;
  build(tmp.path());
  auto store = RouteStore::open(tmp.path());
  EXPECT_EQ(store.routes(), expected_after(steps().size()));
  EXPECT_FALSE(store.recovery().dropped);
  EXPECT_EQ(store.recovery().message, "");
}

// What a put replaced is kept with it, across a reopen and a compaction; a record from before it
// was kept (no "previous" member) leaves it unknown; a removed route has none.
TEST(RouteStore, KeepsWhatEachPutReplaced) {
  TempDir tmp;
  {
    auto store = RouteStore::open(tmp.path());
    ASSERT_FALSE(store.put(route("web", ""), {true, std::nullopt}));
    ASSERT_FALSE(store.put(route("web", "", {{"2", 50}}), {true, route("web", "").targets}));
    ASSERT_FALSE(store.put(route("api", "")));  // not known
    ASSERT_FALSE(store.put(route("old", ""), {true, std::nullopt}));
    ASSERT_FALSE(store.remove("old", ""));
    ASSERT_FALSE(store.compact());
  }
  auto store = RouteStore::open(tmp.path());
  EXPECT_EQ(store.previous("web", ""), (route_log::Previous{true, route("web", "").targets}));
  EXPECT_FALSE(store.previous("api", "").known);
  EXPECT_FALSE(store.previous("old", "").known);
  // A record written before: the same payload without "previous" reads as not known.
  route_log::Op op;
  ASSERT_TRUE(route_log::decode_payload(
      R"({"op":"put","service":"web","consumer":"","targets":[],"revision":0})", op));
  EXPECT_FALSE(op.previous.known);
  ASSERT_TRUE(route_log::decode_payload(
      R"({"op":"put","service":"web","consumer":"","targets":[],"revision":0,"previous":null})",
      op));
  EXPECT_TRUE(op.previous.known);
  EXPECT_FALSE(op.previous.targets.has_value());
  std::string why;
  EXPECT_FALSE(route_log::decode_payload(
      R"({"op":"put","service":"web","consumer":"","targets":[],"revision":0,"previous":7})", op,
      &why));
  EXPECT_THAT(why, HasSubstr("previous"));
}

TEST(RouteStore, CreatesPrivateDirectoryAndHeader) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "a" / "data";
  auto store = RouteStore::open(dir);
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(store.file(), dir / "routes.log");
  EXPECT_EQ(read_file(dir / "routes.log"), "DSTACK-ROUTES 1\n");
}

TEST(RouteStore, RemovingAnAbsentRouteWritesNothing) {
  TempDir tmp;
  auto store = RouteStore::open(tmp.path());
  const auto size = store.file_size();
  EXPECT_FALSE(store.remove("web", ""));
  EXPECT_EQ(store.file_size(), size);
  EXPECT_EQ(fs::file_size(store.file()), size);
}

TEST(RouteStore, RefusesRoutesItCouldNotLoadAgain) {
  TempDir tmp;
  auto store = RouteStore::open(tmp.path());
  ASSERT_FALSE(store.put(route("web", "")));
  const auto size = fs::file_size(store.file());
  for (const auto& bad :
       {route("web", "", {{"1", 101}}), route("web", "", {{"1", -1}}), route("", "billing"),
        route("we\xff", ""), route("web", "", {{std::string(2 << 20, 'v'), 1}})}) {
    const auto ec = store.put(bad);
    EXPECT_EQ(ec, StoreErrc::invalid_record);
    EXPECT_EQ(ec.message(),
              "record cannot be stored (bad field types, values out of range, invalid UTF-8, or "
              "larger than 1 MiB)");
  }
  EXPECT_EQ(fs::file_size(store.file()), size);
  EXPECT_EQ(store.routes(), (Routes{{{"web", ""}, route("web", "")}}));
}

// A cut at any byte is what a crash or a full disk can leave: the store must load exactly the
// records completed before the cut, and keep working afterwards.
TEST(RouteStore, TruncationAtEveryOffsetLoadsTheCompletePrefix) {
  TempDir source;
  const auto ends = build(source.path());
  const std::string bytes = read_file(source.path() / "routes.log");
  ASSERT_EQ(bytes.size(), ends.back());

  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    TempDir tmp;
    write_file(tmp.path() / "routes.log", bytes.substr(0, cut));
    const std::size_t complete = std::upper_bound(ends.begin(), ends.end(), cut) - ends.begin();
    const std::uint64_t good_end = complete > 0 ? ends[complete - 1] : route_log::kMagic.size();
    Routes expected = expected_after(complete);
    {
      auto store = RouteStore::open(tmp.path());
      ASSERT_EQ(store.routes(), expected);
      const bool torn = cut != 0 && cut != good_end;
      EXPECT_EQ(store.recovery().dropped, torn);
      if (torn && cut > good_end) {
        EXPECT_EQ(store.recovery().offset, good_end);
        EXPECT_EQ(store.recovery().bytes, cut - good_end);
      }
      EXPECT_EQ(fs::file_size(store.file()), good_end);
      ASSERT_FALSE(store.put(route("new", "")));
    }
    expected[{"new", ""}] = route("new", "");
    auto again = RouteStore::open(tmp.path());
    EXPECT_EQ(again.routes(), expected);
    EXPECT_FALSE(again.recovery().dropped);
  }
}

TEST(RouteStore, DamagedLastRecordIsDroppedAndReported) {
  TempDir tmp;
  const auto ends = build(tmp.path());
  const fs::path file = tmp.path() / "routes.log";
  std::string bytes = read_file(file);
  const auto last = ends[ends.size() - 2];
  bytes[last + 12] ^= 0x20;  // inside the payload
  write_file(file, bytes);

  auto store = RouteStore::open(tmp.path());
  EXPECT_EQ(store.routes(), expected_after(steps().size() - 1));
  EXPECT_TRUE(store.recovery().dropped);
  EXPECT_EQ(store.recovery().offset, last);
  EXPECT_EQ(store.recovery().bytes, bytes.size() - last);
  EXPECT_EQ(store.recovery().reason, "checksum mismatch");
  EXPECT_EQ(store.recovery().message,
            file.string() + ": dropped a torn tail of " + std::to_string(bytes.size() - last) +
                " bytes at offset " + std::to_string(last) +
                " (checksum mismatch), left by an interrupted write; the records before it "
                "are intact");
  EXPECT_EQ(fs::file_size(file), last);
}

// Whatever byte of the last record is damaged, the store never loads a garbled route: it
// drops the record or refuses.
TEST(RouteStore, AnyFlippedByteInLastRecordDropsItOrRefuses) {
  TempDir source;
  const auto ends = build(source.path());
  const std::string bytes = read_file(source.path() / "routes.log");
  const auto last = ends[ends.size() - 2];
  int dropped = 0;
  for (auto at = last; at < bytes.size(); ++at) {
    SCOPED_TRACE("flip at " + std::to_string(at));
    TempDir tmp;
    std::string damaged = bytes;
    damaged[at] ^= 0x01;
    write_file(tmp.path() / "routes.log", damaged);
    try {
      auto store = RouteStore::open(tmp.path());
      EXPECT_EQ(store.routes(), expected_after(steps().size() - 1));
      EXPECT_EQ(store.recovery().offset, last);
      ++dropped;
    } catch (const StoreError& e) {
      EXPECT_THAT(e.what(), HasSubstr("at offset " + std::to_string(last)));
      EXPECT_THAT(e.what(), HasSubstr("refusing to load"));
    }
  }
  EXPECT_GT(dropped, 0);
}

TEST(RouteStore, DamagedMiddleRecordIsRefused) {
  TempDir tmp;
  const auto ends = build(tmp.path());
  const fs::path file = tmp.path() / "routes.log";
  std::string bytes = read_file(file);
  bytes[ends[1] + 12] ^= 0x20;  // payload of the third record
  write_file(file, bytes);
  EXPECT_EQ(open_error(tmp.path()),
            refusal(file, "corrupt record at offset " + std::to_string(ends[1]) +
                              " (checksum mismatch) followed by " +
                              std::to_string(bytes.size() - ends[2]) + " more bytes"));
  EXPECT_EQ(read_file(file), bytes);  // refusing must not repair anything
}

// Damage anywhere before the last record would lose acknowledged routes if dropped.
TEST(RouteStore, AnyFlippedByteInAMiddleRecordIsRefused) {
  TempDir source;
  const auto ends = build(source.path());
  const std::string bytes = read_file(source.path() / "routes.log");
  for (auto at = ends[1]; at < ends[2]; ++at) {
    SCOPED_TRACE("flip at " + std::to_string(at));
    TempDir tmp;
    std::string damaged = bytes;
    damaged[at] ^= 0x01;
    write_file(tmp.path() / "routes.log", damaged);
    EXPECT_THAT(open_error(tmp.path()),
                HasSubstr("corrupt record at offset " + std::to_string(ends[1])));
  }
}

TEST(RouteStore, GarbageLengthInLastRecordIsATornTail) {
  TempDir tmp;
  const auto ends = build(tmp.path());
  const fs::path file = tmp.path() / "routes.log";
  write_file(file, read_file(file) + std::string("\xff\xff\xff\xff\x01\x02\x03\x04{\"op\"", 13));

  auto store = RouteStore::open(tmp.path());
  EXPECT_EQ(store.routes(), expected_after(steps().size()));
  EXPECT_EQ(store.recovery().reason, "invalid length 4294967295");
  EXPECT_EQ(store.recovery().offset, ends.back());
  EXPECT_EQ(store.recovery().bytes, 13u);
  EXPECT_EQ(fs::file_size(file), ends.back());
}

TEST(RouteStore, GarbageLengthInTheMiddleIsRefused) {
  TempDir tmp;
  const auto ends = build(tmp.path());
  const fs::path file = tmp.path() / "routes.log";
  std::string bytes = read_file(file);
  bytes.replace(ends[1], 4, "\xf0\xff\xff\x7f");
  write_file(file, bytes);
  EXPECT_EQ(open_error(tmp.path()),
            refusal(file, "corrupt record at offset " + std::to_string(ends[1]) +
                              " (invalid length 2147483632) followed by a valid record at "
                              "offset " +
                              std::to_string(ends[2])));
}

// A length grown past the end of the file looks like an incomplete record, but the valid
// records behind it show it is not a tail.
TEST(RouteStore, LengthPointingPastTheEndWithRecordsBehindIsRefused) {
  TempDir tmp;
  const auto ends = build(tmp.path());
  const fs::path file = tmp.path() / "routes.log";
  std::string bytes = read_file(file);
  bytes.replace(ends[1], 4, std::string("\x00\x00\x01\x00", 4));  // 65536
  write_file(file, bytes);
  EXPECT_THAT(open_error(tmp.path()),
              HasSubstr("corrupt record at offset " + std::to_string(ends[1]) +
                        " (incomplete record: length 65536, "));
  EXPECT_THAT(open_error(tmp.path()),
              HasSubstr("followed by a valid record at offset " + std::to_string(ends[2])));
}

TEST(RouteStore, ValidChecksumWithInvalidPayloadIsRefusedEvenAtTheEnd) {
  TempDir tmp;
  const auto ends = build(tmp.path());
  const fs::path file = tmp.path() / "routes.log";
  const std::string payload =
      R"({"consumer":"","op":"put","revision":1,"service":"web","targets":[{"version":"1","weight":500}]})";
  std::string record;
  const auto le32 = [&record](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) record.push_back(static_cast<char>(v >> (8 * i)));
  };
  le32(static_cast<std::uint32_t>(payload.size()));
  le32(record_log::crc32(payload));
  write_file(file, read_file(file) + record + payload);
  EXPECT_EQ(open_error(tmp.path()),
            refusal(file, "record at offset " + std::to_string(ends.back()) +
                              " has a valid checksum but an invalid payload (target weight "
                              "missing or not an integer 0..100)"));
}

TEST(RouteStore, BadHeaderIsRefused) {
  TempDir tmp;
  const fs::path file = tmp.path() / "routes.log";
  const std::string problem =
      "not a dstack route log (bad header at offset 0, expected \"DSTACK-ROUTES 1\")";
  write_file(file, "DSTACK-ROUTES 2\n");
  EXPECT_EQ(open_error(tmp.path()), refusal(file, problem));
  write_file(file, "hello");  // shorter than the header but not a prefix of it
  EXPECT_EQ(open_error(tmp.path()), refusal(file, problem));
}

TEST(RouteStore, PartialHeaderIsACrashDuringCreation) {
  TempDir tmp;
  const fs::path file = tmp.path() / "routes.log";
  write_file(file, "DSTACK-RO");
  auto store = RouteStore::open(tmp.path());
  EXPECT_TRUE(store.routes().empty());
  EXPECT_TRUE(store.recovery().dropped);
  EXPECT_EQ(store.recovery().reason, "incomplete file header");
  EXPECT_EQ(read_file(file), "DSTACK-ROUTES 1\n");
}

TEST(RouteStore, LeftoverTmpFileIsRemoved) {
  TempDir tmp;
  build(tmp.path());
  const fs::path leftover = tmp.path() / "routes.log.tmp";
  write_file(leftover, "DSTACK-ROUTES 1\nhalf a compaction");
  auto store = RouteStore::open(tmp.path());
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_TRUE(store.recovery().removed_tmp);
  EXPECT_FALSE(store.recovery().dropped);
  EXPECT_EQ(store.recovery().message,
            leftover.string() + ": removed the leftover of an interrupted compaction");
  EXPECT_EQ(store.routes(), expected_after(steps().size()));
}

TEST(RouteStore, OverwritesAreCompactedAway) {
  TempDir tmp;
  const RecordLogOptions options{.compact_min_bytes = 4096, .compact_ratio = 4};
  std::uint64_t largest = 0;
  {
    auto store = RouteStore::open(tmp.path(), options);
    ASSERT_FALSE(store.put(route("api", "", {{"1", 100}})));
    for (int i = 0; i < 300; ++i) {
      ASSERT_FALSE(store.put(route("web", "", {{"1", i % 101}, {"2", 100 - i % 101}}, i)));
      largest = std::max(largest, store.file_size());
    }
    EXPECT_FALSE(store.last_compaction_error());
    EXPECT_LE(largest, 4096u + 200);  // without compaction 300 records take ~30 KiB
    EXPECT_EQ(store.file_size(), fs::file_size(store.file()));
  }
  EXPECT_FALSE(fs::exists(tmp.path() / "routes.log.tmp"));
  auto store = RouteStore::open(tmp.path(), options);
  EXPECT_EQ(
      store.routes(),
      (Routes{{{"api", ""}, route("api", "", {{"1", 100}})},
              {{"web", ""}, route("web", "", {{"1", 299 % 101}, {"2", 100 - 299 % 101}}, 299)}}));
}

TEST(RouteStore, CompactWritesOneRecordPerLiveRoute) {
  TempDir tmp;
  build(tmp.path());
  Routes want = expected_after(steps().size());
  {
    auto store = RouteStore::open(tmp.path());
    const auto before = store.file_size();
    ASSERT_FALSE(store.compact());
    // One record per live route, in the order of the log's keys.
    std::map<std::string, std::string> payloads;
    for (const auto& [key, r] : store.routes())
      ASSERT_TRUE(route_log::encode({false, r}, payloads[route_log::key(r.service, r.consumer)]));
    std::string expected(route_log::kMagic);
    for (const auto& [key, payload] : payloads) expected += record_log::frame(payload);
    EXPECT_EQ(read_file(store.file()), expected);
    EXPECT_LT(store.file_size(), before);
    ASSERT_FALSE(store.put(route("after", "")));  // appends must go to the new file
    want[{"after", ""}] = route("after", "");
    EXPECT_EQ(store.routes(), want);
  }
  EXPECT_EQ(RouteStore::open(tmp.path()).routes(), want);
}

// A disk that fills up mid-record (here: a file size limit) must leave no fragment behind
// for the next record to land after.
TEST(RouteStore, FailedWriteLeavesNoFragment) {
  TempDir tmp;
  auto store = RouteStore::open(tmp.path());
  ASSERT_FALSE(store.put(route("web", "")));
  const auto size = store.file_size();

  std::error_code ec;
  {
    test::FileSizeLimit full(size + 10);  // room for part of the next record only
    ec = store.put(route("api", ""));
  }

  EXPECT_EQ(ec, std::errc::file_too_large);
  EXPECT_EQ(store.get("api", ""), std::nullopt);
  EXPECT_EQ(fs::file_size(store.file()), size);
  ASSERT_FALSE(store.put(route("db", "")));
  store = RouteStore::open(tmp.path() / "elsewhere");  // releases the first directory
  auto reopened = RouteStore::open(tmp.path());
  EXPECT_FALSE(reopened.recovery().dropped);
  EXPECT_EQ(reopened.routes(),
            (Routes{{{"db", ""}, route("db", "")}, {{"web", ""}, route("web", "")}}));
}

TEST(RouteStore, SecondOpenOfTheSameDirectoryIsRefused) {
  TempDir tmp;
  auto store = RouteStore::open(tmp.path());
  EXPECT_EQ(open_error(tmp.path()),
            tmp.path().string() + ": data directory is already in use by another process");
}

TEST(RouteStore, MovedStoreKeepsWorking) {
  TempDir tmp;
  auto first = RouteStore::open(tmp.path());
  RouteStore second = std::move(first);
  ASSERT_FALSE(second.put(route("web", "")));
  EXPECT_EQ(first.put(route("api", "")), std::errc::bad_file_descriptor);
  { RouteStore gone = std::move(second); }
  EXPECT_EQ(RouteStore::open(tmp.path()).routes(), (Routes{{{"web", ""}, route("web", "")}}));
}

// ---- policies.log: the same record log, one traffic policy per service ----

model::TrafficPolicy traffic_policy(std::string service, int retries) {
  model::TrafficPolicy p;
  p.service = std::move(service);
  p.retries = retries;
  p.retry_on = {"conn-failure", "503"};
  p.timeout = std::chrono::milliseconds(1500);
  p.balance = model::Balance{model::Balance::Kind::header, "X-User"};
  return p;
}

TEST(PolicyStore, PutsAndRemovesSurviveAReopenWithoutRevisions) {
  TempDir tmp;
  {
    auto store = PolicyStore::open(DataDir::open(tmp.path()));
    auto p = traffic_policy("web", 2);
    p.revision = 99;  // the directory's counter: not stored
    ASSERT_FALSE(store.put(p));
    ASSERT_FALSE(store.put(traffic_policy("api", 1)));
    ASSERT_FALSE(store.put(traffic_policy("web", 3)));
    ASSERT_FALSE(store.remove("api"));
    ASSERT_FALSE(store.remove("nothing"));  // nothing to remove: nothing written
  }
  auto again = PolicyStore::open(DataDir::open(tmp.path()));
  EXPECT_EQ(again.policies(),
            (std::map<std::string, model::TrafficPolicy>{{"web", traffic_policy("web", 3)}}));
  EXPECT_THAT(read_file(again.file()), ::testing::StartsWith("DSTACK-POLICIES 1\n"));
}

// A policy the log could not load again never reaches the file: one bad put would otherwise
// make the directory unable to start.
TEST(PolicyStore, APolicyThatWouldNotLoadAgainIsRefused) {
  TempDir tmp;
  auto store = PolicyStore::open(DataDir::open(tmp.path()));
  auto bad = traffic_policy("web", 11);
  EXPECT_EQ(store.put(bad), StoreErrc::invalid_record);
  bad = traffic_policy("web", 1);
  bad.balance->name = "X User";
  EXPECT_EQ(store.put(bad), StoreErrc::invalid_record);
  EXPECT_TRUE(store.policies().empty());
}

TEST(PolicyLog, PayloadsSayWhyTheyAreRefused) {
  policy_log::Op op;
  std::string why;
  EXPECT_FALSE(policy_log::decode_payload(R"({"op":"put"})", op, &why));
  EXPECT_EQ(why, "\"policy\" missing");
  EXPECT_FALSE(policy_log::decode_payload(
      R"({"op":"put","policy":{"service":"web","revision":0,"retries":-1}})", op, &why));
  EXPECT_EQ(why, "policy: retries -1 is out of range 0..10");
  EXPECT_FALSE(policy_log::decode_payload(R"({"op":"delete","service":""})", op, &why));
  EXPECT_EQ(why, "empty service");
  EXPECT_FALSE(policy_log::decode_payload(R"({"op":"move"})", op, &why));
  EXPECT_EQ(why, "unknown op \"move\"");
  // A revision in the file (no version of the directory writes one) is not the policy's.
  ASSERT_TRUE(policy_log::decode_payload(
      R"({"op":"put","policy":{"service":"web","revision":5,"retries":1}})", op, &why));
  EXPECT_EQ(op.policy.revision, 0u);
  std::string again;
  ASSERT_TRUE(policy_log::encode(op, again, &why)) << why;
  policy_log::Op back;
  ASSERT_TRUE(policy_log::decode_payload(again, back, &why));
  EXPECT_EQ(back.policy, op.policy);
  ASSERT_TRUE(policy_log::decode_payload(R"({"op":"delete","service":"web"})", op, &why));
  EXPECT_TRUE(op.remove);
  EXPECT_EQ(op.policy.service, "web");
}

}  // namespace
}  // namespace dstack::directory
