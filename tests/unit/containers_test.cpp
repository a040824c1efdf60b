// The pure parts of following containers: the default gateway of a /proc/PID/net/route, the
// "container admit" argument a runtime hook sends, and which container a cgroup belongs to.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

#include "runner/cgroup_path.h"
#include "runner/container_identity.h"
#include "runner/container_networks.h"

namespace cgfw::runner {
namespace {

constexpr const char* kHeader =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

TEST(DefaultGateway, ReadsTheDefaultRouteOfAProcRouteTable) {
  std::string table = std::string(kHeader) +
                      "eth0\t0000D50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                      "eth0\t00000000\t0100D50A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
  auto gateway = default_gateway_v4(table);
  ASSERT_TRUE(gateway);
  EXPECT_EQ(*gateway, (std::array<std::uint8_t, 4>{10, 213, 0, 1}));
}

TEST(DefaultGateway, PrefersTheLowestMetricAndIgnoresWhatIsNotADefaultRoute) {
  std::string table = std::string(kHeader) +
                      "a\t00000000\t0100D50A\t0003\t0\t0\t200\t00000000\t0\t0\t0\n"
                      "b\t00000000\t011011AC\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                      "c\t00000000\t02020202\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"  // no G flag
                      "d\t0000D50A\t03030303\t0003\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  // not default
                      "garbage line\n";
  auto gateway = default_gateway_v4(table);
  ASSERT_TRUE(gateway);
  EXPECT_EQ(*gateway, (std::array<std::uint8_t, 4>{172, 17, 16, 1}));
  EXPECT_FALSE(default_gateway_v4(kHeader));
  EXPECT_FALSE(default_gateway_v4(""));
}

TEST(ContainerAdmission, ParsesWhatAHookSends) {
  auto admission =
      parse_container_admission(R"({"pid": 42, "id": "c1", "name": "web", "image": "nginx:1"})");
  ASSERT_TRUE(admission) << admission.error().message;
  EXPECT_EQ(admission->pid, 42);
  EXPECT_EQ(admission->container.id, "c1");
  EXPECT_EQ(admission->container.name, "web");
  EXPECT_EQ(admission->container.image, "nginx:1");
}

TEST(ContainerAdmission, RefusesWhatIsNotOne) {
  for (const char* bad : {"", "[]", "{}", R"({"pid": 42})", R"({"id": "c1"})",
                          R"({"pid": -1, "id": "c1"})", R"({"pid": "42", "id": "c1"})",
                          R"({"pid": 42, "id": 7})", R"({"pid": 42, "id": "c1", "x": 1})",
                          R"({"pid": 42, "id": "c\u0001"})", R"({"pid": 99999999999, "id": "c1"})"})
    EXPECT_FALSE(parse_container_admission(bad)) << bad;
  std::string long_name = R"({"pid": 1, "id": ")" + std::string(600, 'a') + R"("})";
  EXPECT_FALSE(parse_container_admission(long_name));
}

TEST(ContainerIdentity, ReadsTheIdFromRuntimesCgroupNames) {
  EXPECT_EQ(container_id_from_cgroup("/sys/fs/cgroup/system.slice/docker-0123abcd.scope"),
            "0123abcd");
  EXPECT_EQ(container_id_from_cgroup("/sys/fs/cgroup/machine.slice/libpod-77ef.scope"), "77ef");
  EXPECT_EQ(container_id_from_cgroup("/sys/fs/cgroup/docker/4242"), "4242");
  EXPECT_EQ(container_id_from_cgroup("/runtime/c1"), "c1");
}

TEST(CgroupPath, WithinAndBelowCompareWholeComponents) {
  EXPECT_TRUE(cgroup_within("/cg/docker", "/cg/docker"));
  EXPECT_FALSE(cgroup_below("/cg/docker", "/cg/docker"));
  EXPECT_TRUE(cgroup_below("/cg/docker/c1/sub", "/cg/docker"));
  EXPECT_FALSE(cgroup_within("/cg/docker2/c1", "/cg/docker"));
  EXPECT_FALSE(cgroup_within("/cg", "/cg/docker"));
  EXPECT_TRUE(cgroup_below("/c1", "/"));
  EXPECT_FALSE(cgroup_below("/", "/"));
}

TEST(ContainerRegistry, NamedContainersAndFollowedRuntimeCgroups) {
  ContainerRegistry registry({"/cg/runtime"});
  EXPECT_FALSE(registry.find("/cg/runtime")) << "the runtime's own cgroup is no container";
  EXPECT_FALSE(registry.find("/cg/runtimeX/c1")) << "a sibling with a longer name";
  EXPECT_FALSE(registry.find("/cg/job"));
  auto child = registry.find("/cg/runtime/c1/sub");
  ASSERT_TRUE(child);
  EXPECT_EQ(child->id, "c1");
  EXPECT_TRUE(child->name.empty());
  registry.name("/cg/runtime/c1", {"c1", "web", "nginx:1"});
  auto named = registry.find("/cg/runtime/c1/sub");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->name, "web");
  registry.name("/cg/job/inner", {"c9", "", ""});
  EXPECT_EQ(registry.find("/cg/job/inner")->id, "c9");
}

// Events carry the kernel's cgroup id: its path is asked for once, and the answer outlives the
// cgroup (a container's last event may arrive after the container is gone).
TEST(ContainerRegistry, ACgroupIdIsResolvedOnceAndRemembered) {
  ContainerRegistry registry({"/cg/runtime"});
  std::map<std::uint64_t, std::string> cgroups{{7, "/cg/runtime/c1/sub"}, {8, "/cg/job"}};
  int asked = 0;
  auto path_of = [&](std::uint64_t id) -> Result<std::string> {
    ++asked;
    auto found = cgroups.find(id);
    if (found == cgroups.end()) return make_error("no cgroup with id " + std::to_string(id));
    return found->second;
  };
  ASSERT_TRUE(registry.find(7, path_of));
  EXPECT_EQ(registry.find(7, path_of)->id, "c1");
  EXPECT_FALSE(registry.find(8, path_of)) << "the job's own cgroup is no container";
  EXPECT_FALSE(registry.find(8, path_of));
  EXPECT_EQ(asked, 2) << "each id is resolved once";
  cgroups.clear();  // both cgroups are gone now
  EXPECT_EQ(registry.find(7, path_of)->id, "c1");
  EXPECT_FALSE(registry.find(9, path_of)) << "an id that cannot be resolved";
  EXPECT_FALSE(registry.find(9, path_of));
  EXPECT_EQ(asked, 4) << "an unresolved id is asked again";

  // A hook's name reaches an id the registry already knew, and names the cgroup id it is given.
  registry.name("/cg/runtime/c1", {"c1", "web", "nginx:1"}, 12);
  EXPECT_EQ(registry.find(12, path_of)->name, "web");
  cgroups[7] = "/cg/runtime/c1/sub";
  EXPECT_EQ(registry.find(7, path_of)->name, "web");
}

}  // namespace
}  // namespace cgfw::runner
