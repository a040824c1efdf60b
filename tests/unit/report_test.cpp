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

// What the runner records for a connection to a hidden daemon socket and for opening /dev/net/tun
// (runner/unix_trap.cpp, runner/flow_events.cpp): no address, the path says where.
Event unix_event(const std::string& path, int pid = 4242) {
  Event event = curl_event(Decision::blocked, "", pid);
  event.layer = Layer::unix_socket;
  event.protocol = "unix";
  event.port = 0;
  event.path = path;
  event.reason = "unix socket of dockerd; hidden in the sandbox";
  event.suggested_rule = "--allow-unix " + path;
  return event;
}

Event device_event(int pid = 4242) {
  Event event = curl_event(Decision::blocked, "", pid);
  event.layer = Layer::device;
  event.protocol = "tun";
  event.port = 0;
  event.path = "/dev/net/tun";
  event.reason = "TUN/TAP device: packets written to it bypass the sandbox's egress program";
  event.suggested_rule.reset();
  return event;
}

TEST(Journal, UnixAndDeviceEventsAreToldApartByTheirPath) {
  Journal journal;
  EXPECT_TRUE(journal.record(unix_event("/run/docker.sock")));
  EXPECT_FALSE(journal.record(unix_event("/run/docker.sock")));
  EXPECT_TRUE(journal.record(unix_event("/run/containerd/containerd.sock")))
      << "same layer, no address, another socket: another event";
  EXPECT_TRUE(journal.record(device_event()));
  EXPECT_FALSE(journal.record(device_event()));
  ASSERT_EQ(journal.events().size(), 3u);
  EXPECT_EQ(journal.events()[0].count, 2u);
  EXPECT_EQ(journal.events()[2].count, 2u);
  EXPECT_EQ(journal.totals().blocked, 3u);
}

TEST(JsonReport, UnixAndDeviceEventFields) {
  auto unix_json = to_json(unix_event("/run/docker.sock"));
  EXPECT_EQ(unix_json["layer"], "unix");
  EXPECT_EQ(unix_json["protocol"], "unix");
  EXPECT_EQ(unix_json["path"], "/run/docker.sock");
  EXPECT_EQ(unix_json["ip"], "");
  EXPECT_EQ(unix_json["port"], 0);
  EXPECT_EQ(unix_json["suggested_rule"], "--allow-unix /run/docker.sock");
  EXPECT_FALSE(unix_json.contains("answers"));
  auto device_json = to_json(device_event());
  EXPECT_EQ(device_json["layer"], "device");
  EXPECT_EQ(device_json["protocol"], "tun");
  EXPECT_EQ(device_json["path"], "/dev/net/tun");
  EXPECT_FALSE(device_json.contains("suggested_rule"));
  EXPECT_FALSE(to_json(curl_event(Decision::blocked, "198.51.100.11")).contains("path"))
      << "only when set";
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

TEST(JsonReport, UnixAndDeviceEventsValidateAndAreNotPacketDestinations) {
  policy::Policy policy;
  Journal journal;
  journal.record(curl_event(Decision::blocked, "198.51.100.11"));
  journal.record(unix_event("/run/docker.sock"));
  journal.record(device_event());
  auto run = sample_run(policy);
  run.mode = "audit";  // audit mode blocks them too
  auto report = make_report(run, journal);
  EXPECT_EQ(testing::schema_errors(report), "");
  EXPECT_EQ(report["summary"]["blocked"], 3);
  ASSERT_EQ(report["summary"]["destinations"].size(), 1u) << report["summary"].dump();
  EXPECT_EQ(report["summary"]["destinations"][0]["ip"], "198.51.100.11");

  auto no_path = report;
  no_path["events"][1].erase("path");
  EXPECT_NE(testing::schema_errors(no_path), "") << "a unix event says which socket";
  auto device_no_path = report;
  device_no_path["events"][2].erase("path");
  EXPECT_NE(testing::schema_errors(device_no_path), "");
  auto bad_protocol = report;
  bad_protocol["events"][1]["protocol"] = "unix-stream";
  EXPECT_NE(testing::schema_errors(bad_protocol), "");
  auto bad_path = report;
  bad_path["events"][1]["path"] = 7;
  EXPECT_NE(testing::schema_errors(bad_path), "");
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

// A report written with unix and device events reads back with their layer and path, and the
// reading helpers know them for what they are.
TEST(ReportFile, ReadsUnixAndDeviceEventsBack) {
  policy::Policy policy;
  Journal journal;
  journal.record(unix_event("/run/docker.sock"));
  journal.record(device_event());
  std::string why;
  auto report = parse_report(make_report(sample_run(policy), journal).dump(2), why);
  ASSERT_TRUE(report) << why;
  const auto& events = (*report)["events"];
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(json_string(events[0], "layer"), kUnixLayer);
  EXPECT_EQ(json_string(events[1], "layer"), kDeviceLayer);
  EXPECT_TRUE(is_path_layer(json_string(events[0], "layer")));
  EXPECT_TRUE(is_path_layer(json_string(events[1], "layer")));
  EXPECT_FALSE(is_path_layer("packet"));
  EXPECT_FALSE(is_path_layer("dns"));
  EXPECT_EQ(event_path(events[0]), "/run/docker.sock");
  EXPECT_EQ(event_path(events[1]), "/dev/net/tun");
  EXPECT_EQ(event_path(nlohmann::json{{"path", 3}}), "") << "tolerant, like every field";
  EXPECT_EQ(event_path(nlohmann::json{{"path", "/run/a\nb.sock"}}), "/run/a?b.sock");
}

TEST(ReportFile, AllowUnixOptionIsOneShellWord) {
  EXPECT_EQ(allow_unix_option("/run/docker.sock"), "--allow-unix /run/docker.sock");
  EXPECT_EQ(allow_unix_option("/run/user/1000/podman/podman.sock"),
            "--allow-unix /run/user/1000/podman/podman.sock");
  EXPECT_EQ(allow_unix_option("/tmp/my agent.sock"), "--allow-unix '/tmp/my agent.sock'");
  EXPECT_EQ(allow_unix_option("/tmp/it's"), "--allow-unix '/tmp/it'\\''s'");
  EXPECT_EQ(allow_unix_option("/tmp/a\nb"), "--allow-unix '/tmp/a?b'") << "one line";
  EXPECT_EQ(shell_quote(""), "''");
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
