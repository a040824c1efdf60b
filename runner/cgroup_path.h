// Comparing cgroup paths (as cgroup_of_process() gives them): by whole components, so that
// "/docker2" is not inside "/docker". Header-only: the fuzzed admission code uses it too.
#pragma once

#include <string_view>

namespace cgfw::runner {

// `path` is `root` itself or a cgroup below it.
inline bool cgroup_within(std::string_view path, std::string_view root) {
  if (path == root) return true;
  if (root.ends_with('/')) return path.starts_with(root);  // the hierarchy's root, "/"
  return path.size() > root.size() && path.starts_with(root) && path[root.size()] == '/';
}

// `path` is a cgroup strictly below `root`.
inline bool cgroup_below(std::string_view path, std::string_view root) {
  return path != root && cgroup_within(path, root);
}

}  // namespace cgfw::runner
