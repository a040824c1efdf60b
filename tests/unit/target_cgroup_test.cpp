#include "runner/target_cgroup.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/sandbox_process.h"

namespace cgfw::runner {
namespace {

TEST(UnitName, ServiceIsTheDefaultSuffix) {
  EXPECT_EQ(*normalize_unit_name("deploy"), "deploy.service");
  EXPECT_EQ(*normalize_unit_name("deploy.service"), "deploy.service");
  EXPECT_EQ(*normalize_unit_name("run-r1.scope"), "run-r1.scope");
  EXPECT_EQ(*normalize_unit_name("getty@tty1"), "getty@tty1.service");
}

TEST(UnitName, PathsAndOddCharactersAreRefused) {
  for (const char* bad : {"", "../etc", "a/b", "..service", ".hidden", "x y", "x;rm", "x\n"}) {
    auto name = normalize_unit_name(bad);
    ASSERT_FALSE(name.ok()) << bad;
    EXPECT_NE(name.error().message.find("bad unit name"), std::string::npos) << bad;
  }
}

// Without systemd as PID 1 the hierarchy is searched: a fake one in a temporary directory.
TEST(UnitCgroup, FoundInTheHierarchyWhenUnique) {
  if (std::filesystem::exists("/run/systemd/system"))
    GTEST_SKIP() << "SKIPPED LOUDLY: systemd runs here, so systemctl answers instead";
  testing::TempDir mount;
  std::filesystem::create_directories(mount.file("system.slice/deploy.service"));
  std::filesystem::create_directories(mount.file("user.slice/other.service"));
  EXPECT_EQ(*find_unit_cgroup(mount.path(), "deploy"), mount.file("system.slice/deploy.service"));
  std::filesystem::create_directories(mount.file("user.slice/deploy.service"));
  auto ambiguous = find_unit_cgroup(mount.path(), "deploy");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.error().message.find("several cgroups are named deploy.service"),
            std::string::npos);
  EXPECT_FALSE(find_unit_cgroup(mount.path(), "missing").ok());
}

TEST(TargetCgroup, RootAndNonCgroupsAreRefused) {
  testing::TempDir mount;
  std::filesystem::create_directories(mount.file("plain"));
  auto root = open_target_cgroup(mount.path(), mount.path());
  ASSERT_FALSE(root.ok());
  EXPECT_NE(root.error().message.find("refusing to police the root cgroup"), std::string::npos);
  auto plain = open_target_cgroup(mount.path(), "plain");
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.error().message.find("not a cgroup"), std::string::npos);
  auto outside = open_target_cgroup(mount.path(), "../");
  EXPECT_FALSE(outside.ok());
}

}  // namespace
}  // namespace cgfw::runner
