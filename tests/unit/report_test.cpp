#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "policy/parser.h"
#include "reports/journal.h"
#include "reports/json_report.h"
#include "reports/markdown.h"
#include "reports/report_view.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::reports {
namespace {

Event curl_event(Decision decision, const std::string& ip, int pid = 4242) {
  Event event;
  event.time = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  event.decision = decision;
  event.protocol = "tcp";
  event.ip = ip;
  event.port = 443;
  event.process.pid = pid;
  event.process.exe = "/usr/bin/curl";
  event.process.cmdline = {"curl", "https://" + ip + "/"};
  event.process.comm = "curl";
  event.process.ppid = 1;
  event.process.ancestors = {{4200, "/usr/bin/bash"}};
  if (decision == Decision::blocked) {
    event.reason = "no rule allows this address";
    event.suggested_rule = ip + ":443";
  } else {
    event.rule = RuleRef{ip, "--allow #1:1:1"};
  }
  return event;
}

TEST(Journal, DeduplicatesAndCounts) {
  Journal journal;
  EXPECT_TRUE(journal.record(curl_event(Decision::blocked, "198.51.100.11")));
  EXPECT_FALSE(journal.record(curl_event(Decision::blocked, "198.51.100.11")));
  EXPECT_TRUE(journal.record(curl_event(Decision::blocked, "198.51.100.11", 4243)))
      << "another process is another event";
  EXPECT_TRUE(journal.record(curl_event(Decision::allowed, "198.51.100.10")));
  ASSERT_EQ(journal.events().size(), 3u);
  EXPECT_EQ(journal.events()[0].count, 2u);
  auto totals = journal.totals();
  EXPECT_EQ(totals.blocked, 2u);
  EXPECT_EQ(totals.allowed, 1u);
}

TEST(JsonReport, EventFields) {
  auto json = to_json(curl_event(Decision::blocked, "198.51.100.11"));
  EXPECT_EQ(json["time"], "2027-01-15T08:00:00.000000Z");
  EXPECT_EQ(json["decision"], "blocked");
  EXPECT_EQ(json["layer"], "packet");
  EXPECT_EQ(json["protocol"], "tcp");
  EXPECT_EQ(json["ip"], "198.51.100.11");
  EXPECT_EQ(json["port"], 443);
  EXPECT_EQ(json["reason"], "no rule allows this address");
  EXPECT_EQ(json["suggested_rule"], "198.51.100.11:443");
  EXPECT_FALSE(json.contains("rule"));
  EXPECT_FALSE(json.contains("domain"));
  EXPECT_EQ(json["process"]["pid"], 4242);
  EXPECT_EQ(json["process"]["exe"], "/usr/bin/curl");
  EXPECT_EQ(json["process"]["cmdline"][1], "https://198.51.100.11/");
  EXPECT_EQ(json["process"]["ancestors"][0]["exe"], "/usr/bin/bash");

  auto gone = curl_event(Decision::allowed, "198.51.100.10");
  gone.process.exe.clear();
  gone.process.gone = true;
  auto json2 = to_json(gone);
  EXPECT_TRUE(json2["process"]["exe"].is_null()) << "unknown is null, never guessed";
  EXPECT_EQ(json2["process"]["gone"], true);
  EXPECT_EQ(json2["rule"]["location"], "--allow #1:1:1");
}

RunInfo sample_run(const policy::Policy& policy) {
  RunInfo run;
  run.mode = "block";
  run.command = {"make", "-j2"};
  run.exit_status = 0;
  run.cgfw_exit_status = 0;
  run.started_at = std::chrono::system_clock::now();
  run.ended_at = run.started_at + std::chrono::seconds(3);
  run.policy = &policy;
  run.kernel_counters = {{"packets_allowed", 10}, {"events_lost", 0}};
  return run;
}

TEST(JsonReport, WholeReportValidatesAgainstTheSchema) {
  policy::Policy policy;
  policy::append_rules(policy,
                       policy::parse_rules("198.51.100.10\nexample.com:443\n", "egress.txt").rules);
  policy.sources.push_back("egress.txt");
  Journal journal;
  journal.record(curl_event(Decision::blocked, "198.51.100.11"));
  journal.record(curl_event(Decision::allowed, "198.51.100.10"));
  auto report = make_report(sample_run(policy), journal);
  EXPECT_EQ(report["version"], kReportVersion);
  EXPECT_EQ(report["policy"]["rules"][1]["location"], "egress.txt:2:1");
  EXPECT_EQ(report["summary"]["blocked"], 1);
  EXPECT_EQ(report["summary"]["destinations"].size(), 2u);
  EXPECT_TRUE(report["signal"].is_null());
  EXPECT_EQ(testing::schema_errors(report), "");
}

TEST(JsonReport, SchemaRejectsWhatItShould) {
  policy::Policy policy;
  Journal journal;
  journal.record(curl_event(Decision::blocked, "198.51.100.11"));
  auto report = make_report(sample_run(policy), journal);
  auto bad_decision = report;
  bad_decision["events"][0]["decision"] = "maybe";
  EXPECT_NE(testing::schema_errors(bad_decision), "");
  auto no_process = report;
  no_process["events"][0].erase("process");
  EXPECT_NE(testing::schema_errors(no_process), "");
  auto bad_layer = report;
  bad_layer["events"][0]["layer"] = "smoke";
  EXPECT_NE(testing::schema_errors(bad_layer), "");
}

TEST(JsonReport, WritesAtomically) {
  testing::TempDir dir;
  auto path = dir.file("report.json");
  ASSERT_TRUE(write_json_file(path, {{"a", 1}}).ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "{\n  \"a\": 1\n}\n");
  auto failed = write_json_file(dir.file("no/such/dir/report.json"), {{"a", 1}});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("cannot write the report"), std::string::npos);
}

// parse_report is `cgfw`'s gate for report files, which may be edited or come from another job.
TEST(ReportFile, AcceptsReportsAndSaysWhyNot) {
  std::string why;
  std::ifstream in(std::string(CGFW_SOURCE_DIR) + "/tests/unit/data/report-block.json");
  std::stringstream text;
  text << in.rdbuf();
  auto report = parse_report(text.str(), why);
  ASSERT_TRUE(report) << why;
  EXPECT_EQ((*report)["mode"], "block");
  EXPECT_FALSE(parse_report("{\"mode\": \"block\", \"events\": [", why));
  EXPECT_TRUE(why.starts_with("not valid JSON (")) << why;
  EXPECT_FALSE(parse_report("[]", why));
  EXPECT_TRUE(why.starts_with("not a cgfw report (")) << why;
}

// Copying and dumping json recurse once per level: "summary": [[[…]]] a million deep used to be
// accepted and then overflow the stack in make_markdown (and "process" in make_sarif).
TEST(ReportFile, RefusesNestingDeeperThanAReport) {
  auto nested = [](std::size_t depth) {
    return "{\"mode\":\"block\",\"events\":[],\"summary\":" + std::string(depth, '[') +
           std::string(depth, ']') + "}";
  };
  std::string why;
  EXPECT_FALSE(parse_report(nested(1'000'000), why));
  EXPECT_EQ(why, "not a cgfw report (JSON nested more than 64 levels deep)");
  EXPECT_FALSE(parse_report(nested(kMaxReportDepth + 1), why));
  auto deepest = parse_report(nested(kMaxReportDepth), why);
  ASSERT_TRUE(deepest) << why;
  EXPECT_NE(make_markdown(*deepest).find("**cgfw: no egress blocked**"), std::string::npos);
}

}  // namespace
}  // namespace cgfw::reports
