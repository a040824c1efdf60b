// The shipped systemd recipe (packaging/systemd/): `systemd-analyze verify` loads both files as
// systemd would (it works without systemd as PID 1), and a strict reading checks the settings the
// recipe relies on, which no parser can judge: Type=notify, no After=%i (a deadlock), the
// fail-closed KillMode=process, the drop-in's ExecStartPre= line.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/fake_internet.h"
#include "tests/support/sandbox_process.h"

namespace cgfw::testing {
namespace {

const std::string kPackaging = std::string(CGFW_SOURCE_DIR) + "/packaging/systemd";
const std::string kTemplate = kPackaging + "/cgfw@.service";
const std::string kDropIn = kPackaging + "/cgfw-protect.conf";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// A unit file read strictly: every line is blank, a comment, "[Section]" or "Key=Value" in a
// section (no continuation lines: the recipe has none). Values per section and key, in order.
struct UnitFile {
  std::map<std::string, std::map<std::string, std::vector<std::string>>> sections;
  std::vector<std::string> errors;

  const std::vector<std::string>& values(const std::string& section, const std::string& key) {
    return sections[section][key];
  }
  // The one value of a key set once; "" (and a test failure) otherwise.
  std::string single(const std::string& section, const std::string& key) {
    const auto& all = values(section, key);
    EXPECT_EQ(all.size(), 1u) << "[" << section << "] " << key << "= should be set once";
    return all.size() == 1 ? all[0] : "";
  }
};

UnitFile parse_unit_file(const std::string& path) {
  UnitFile unit;
  std::ifstream in(path);
  if (!in) unit.errors.push_back("cannot read " + path);
  std::string section;
  int number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    std::string where = path + ":" + std::to_string(number) + ": ";
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) unit.errors.push_back(where + "bad section");
      section = line.substr(1, line.size() - 2);
      unit.sections[section];
      continue;
    }
    auto equals = line.find('=');
    if (equals == std::string::npos || equals == 0 || line.back() == '\\' ||
        line.find_first_of(" \t") < equals) {
      unit.errors.push_back(where + "not Key=Value: " + line);
      continue;
    }
    if (section.empty()) unit.errors.push_back(where + "a setting outside any section");
    unit.sections[section][line.substr(0, equals)].push_back(line.substr(equals + 1));
  }
  return unit;
}

TEST(SystemdUnits, TemplatePolicesItsInstanceAndFailsClosed) {
  UnitFile unit = parse_unit_file(kTemplate);
  EXPECT_TRUE(unit.errors.empty()) << ::testing::PrintToString(unit.errors);
  for (const auto& [section, keys] : unit.sections)
    EXPECT_TRUE(section == "Unit" || section == "Service")
        << "[" << section << "]: the template is started by the protected unit, not installed";

  EXPECT_EQ(unit.single("Service", "Type"), "notify") << "ready only once it polices";
  EXPECT_EQ(unit.single("Service", "NotifyAccess"), "main");
  std::string exec = unit.single("Service", "ExecStart");
  EXPECT_EQ(exec.rfind("/usr/local/bin/cgfw attach --unit %i ", 0), 0u) << exec;
  EXPECT_NE(exec.find("$CGFW_OPTIONS"), std::string::npos) << exec;
  EXPECT_EQ(unit.single("Service", "EnvironmentFile"), "-/etc/cgfw/%i.env");
  EXPECT_EQ(unit.single("Service", "Environment").rfind("\"CGFW_OPTIONS=", 0), 0u);
  EXPECT_EQ(unit.single("Service", "KillSignal"), "SIGTERM");
  EXPECT_EQ(unit.single("Service", "KillMode"), "process")
      << "systemd must not SIGKILL the watchdog when cgfw dies";
  EXPECT_EQ(unit.single("Service", "Restart"), "no");

  EXPECT_EQ(unit.single("Unit", "PartOf"), "%i");
  EXPECT_EQ(unit.single("Unit", "Before"), "%i");
  for (const char* key : {"After", "Requires", "Wants", "BindsTo", "Requisite"})
    for (const auto& value : unit.values("Unit", key))
      EXPECT_EQ(value.find("%i"), std::string::npos)
          << key << "=" << value
          << ": the unit's ExecStartPre= starts cgfw and waits, so cgfw must not wait for it";
}

TEST(SystemdUnits, DropInStartsCgfwBeforeTheUnitRuns) {
  UnitFile unit = parse_unit_file(kDropIn);
  EXPECT_TRUE(unit.errors.empty()) << ::testing::PrintToString(unit.errors);
  EXPECT_EQ(unit.single("Service", "ExecStartPre"), "+/bin/systemctl restart cgfw@%n.service");
  EXPECT_EQ(unit.single("Service", "ExecStopPost"),
            "-+/bin/systemctl stop --no-block cgfw@%n.service")
      << "blocking here would wait for cgfw@, which is ordered after the unit's stop";
  for (const auto& [section, keys] : unit.sections) {
    for (const auto& [key, values] : keys) {
      if (key == "ExecStartPre" || key == "ExecStopPost") continue;
      for (const auto& value : values)
        EXPECT_EQ(value.find("cgfw@"), std::string::npos)
            << key << "=" << value << ": cgfw@ would start before the unit's cgroup exists";
    }
  }
}

// systemd itself reads them: a dummy unit with the drop-in and the template's instance for it,
// in a temporary directory first on the unit path. The template's ExecStart= names the installed
// binary, which a build machine lacks: the built one stands in (and the test checks the path).
TEST(SystemdUnits, SystemdAnalyzeVerifyAcceptsThem) {
  if (run_command({"systemd-analyze", "--version"}).exit_code != 0)
    GTEST_SKIP() << "SKIPPED LOUDLY: systemd-analyze is not installed; the strict reading in "
                    "SystemdUnits.TemplatePolicesItsInstanceAndFailsClosed still ran";
  TempDir dir;
  std::string unit = "cgfwtest-" + std::to_string(::getpid()) + ".service";
  std::string instance = "cgfw@" + unit + ".service";
  dir.write(unit,
            "[Unit]\nDescription=stands for the protected unit\n"
            "[Service]\nExecStart=/bin/sleep infinity\n");
  std::filesystem::create_directory(dir.file(unit + ".d"));
  std::filesystem::copy_file(kDropIn, dir.file(unit + ".d/cgfw.conf"));
  std::string text = read_file(kTemplate);
  const std::string installed = "ExecStart=/usr/local/bin/cgfw ";
  auto at = text.find(installed);
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(text.find(installed, at + 1), std::string::npos);
  text.replace(at, installed.size(), std::string("ExecStart=") + CGFW_TOOL_BINARY + " ");
  dir.write("cgfw@.service", text);

  // The trailing ':' keeps systemd's own directories (sysinit.target & co.) after ours. Paths,
  // not names: verify also searches the directories of its arguments, the current one for names.
  auto verified =
      run_command({"env", "SYSTEMD_UNIT_PATH=" + dir.path() + ":", "systemd-analyze", "verify",
                   "--man=no", "--generators=no", dir.file(unit), dir.file(instance)});
  // Silent when all is well. Lines about units of this machine are not ours to judge.
  std::string ours;
  std::istringstream lines(verified.out + verified.err);
  for (std::string line; std::getline(lines, line);)
    if (line.find(dir.path()) != std::string::npos || line.find("cgfw") != std::string::npos)
      ours += line + "\n";
  EXPECT_EQ(ours, "");
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
}

}  // namespace
}  // namespace cgfw::testing
