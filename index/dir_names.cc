// DirNames: one sorted directory listing for every tree walk in index/.
#include "index/dir_names.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>

namespace modelfs {

Result<std::vector<std::string>> DirNames(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) return Status::FromErrno("cannot read directory " + dir, errno);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* de = readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  int err = errno;
  closedir(d);
  if (err != 0) return Status::FromErrno("cannot read directory " + dir, err);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace modelfs
