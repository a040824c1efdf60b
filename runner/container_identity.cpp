#include "runner/container_identity.h"

#include <nlohmann/json.hpp>

#include "runner/cgroup_path.h"

namespace cgfw::runner {
namespace {

constexpr std::size_t kMaxField = 512;

bool printable(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

Result<ContainerAdmission> parse_container_admission(std::string_view text) {
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object())
    return make_error("a container admission is a JSON object with \"pid\" and \"id\"");
  ContainerAdmission admission;
  for (const auto& [key, value] : parsed.items()) {
    if (key == "pid") {
      if (!value.is_number_integer() || value.get<long long>() <= 0 ||
          value.get<long long>() > (1 << 22))
        return make_error("\"pid\" must be a process id");
      admission.pid = value.get<int>();
    } else if (key == "id" || key == "name" || key == "image") {
      if (!value.is_string()) return make_error("\"" + key + "\" must be a string");
      auto field = value.get<std::string>();
      if (field.size() > kMaxField || !printable(field))
        return make_error("\"" + key + "\" is too long or holds control characters");
      (key == "id"     ? admission.container.id
       : key == "name" ? admission.container.name
                       : admission.container.image) = field;
    } else {
      return make_error("unknown key \"" + key.substr(0, 64) + "\" in a container admission");
    }
  }
  if (admission.pid == 0) return make_error("a container admission needs \"pid\"");
  if (admission.container.id.empty()) return make_error("a container admission needs \"id\"");
  return admission;
}

std::string container_id_from_cgroup(std::string_view cgroup_path) {
  auto slash = cgroup_path.rfind('/');
  std::string_view name =
      slash == std::string_view::npos ? cgroup_path : cgroup_path.substr(slash + 1);
  if (name.ends_with(".scope")) name.remove_suffix(6);
  for (std::string_view prefix : {"docker-", "libpod-", "cri-containerd-", "crio-"})
    if (name.starts_with(prefix)) {
      name.remove_prefix(prefix.size());
      break;
    }
  return std::string(name);
}

void ContainerRegistry::name(const std::string& cgroup_path, reports::ContainerRef container,
                             std::uint64_t cgroup_id) {
  // What was concluded before the name was known (e.g. "no container") may be wrong now.
  by_id_.clear();
  if (cgroup_id != 0) by_id_[cgroup_id] = container;
  named_[cgroup_path] = std::move(container);
}

std::optional<reports::ContainerRef> ContainerRegistry::find(std::uint64_t cgroup_id,
                                                             const CgroupPathOf& path_of) {
  if (auto known = by_id_.find(cgroup_id); known != by_id_.end()) return known->second;
  auto path = path_of(cgroup_id);
  if (!path) return std::nullopt;
  // Cgroup ids are never reused, so an answer stays true; the bound only limits memory.
  constexpr std::size_t kMaxRemembered = 4096;
  if (by_id_.size() >= kMaxRemembered) by_id_.clear();
  return by_id_[cgroup_id] = find(*path);
}

std::optional<reports::ContainerRef> ContainerRegistry::find(const std::string& cgroup_path) const {
  // The named container whose cgroup holds this one (a runtime may nest sub-cgroups).
  for (auto it = named_.begin(); it != named_.end(); ++it)
    if (cgroup_within(cgroup_path, it->first)) return it->second;
  for (const auto& root : followed_) {
    if (!cgroup_below(cgroup_path, root)) continue;
    // The container is the followed root's child that holds the process.
    std::string_view rest = std::string_view(cgroup_path).substr(root == "/" ? 1 : root.size() + 1);
    std::string child =
        (root == "/" ? "" : root) + "/" + std::string(rest.substr(0, rest.find('/')));
    return reports::ContainerRef{container_id_from_cgroup(child), "", ""};
  }
  return std::nullopt;
}

}  // namespace cgfw::runner
