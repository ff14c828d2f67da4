// A test-only tool for the multi-host shell tests (tests/multihost/): what
// they need of the fixtures' servers that the modelfs binary must not do.
//   remote_tool mb BUCKET                 create a bucket (S3_ENDPOINT, AWS_* env)
//   remote_tool put BUCKET KEY FILE       store FILE's bytes as KEY (e.g. damage)
//   remote_tool ls BUCKET PREFIX          list keys, one a line
//   remote_tool fetch BUCKET KEY FILE PARALLEL [PART_MIB]
//                                         GetToFd into FILE (measures the fetch)
//   remote_tool compact                   compact etcd (ETCD_ENDPOINTS) to now
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "index/remote/etcd.h"
#include "index/remote/s3.h"

using namespace modelfs;
using namespace modelfs::remote;

namespace {

std::string Env(const char* name) {
  const char* v = getenv(name);
  if (!v) {
    std::cerr << "remote_tool: $" << name << " is not set\n";
    exit(2);
  }
  return v;
}

S3Client S3(const std::string& bucket) {
  S3Config c;
  c.endpoint = Env("S3_ENDPOINT");
  c.region = getenv("S3_REGION") ? getenv("S3_REGION") : "us-east-1";
  c.bucket = bucket;
  c.access_key_id = Env("AWS_ACCESS_KEY_ID");
  c.secret_access_key = Env("AWS_SECRET_ACCESS_KEY");
  return S3Client(c);
}

int Done(const Status& st) {
  if (st.ok()) return 0;
  std::cerr << "remote_tool: " << st.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "mb" && argc == 3) return Done(S3(argv[2]).CreateBucket());
  if (cmd == "put" && argc == 5) {
    std::ifstream f(argv[4], std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return Done(S3(argv[2]).Put(argv[3], ss.str()));
  }
  if (cmd == "ls" && argc == 4) {
    auto l = S3(argv[2]).List(argv[3]);
    if (!l.ok()) return Done(l.status());
    for (const auto& o : *l) std::cout << o.key << "\n";
    return 0;
  }
  if (cmd == "fetch" && (argc == 6 || argc == 7)) {
    S3Client::Transfer t;
    t.parallel = atoi(argv[5]);
    if (argc == 7) t.part_size = uint64_t(atoi(argv[6])) << 20;
    int fd = open(argv[4], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Done(Status::FromErrno(argv[4], errno));
    uint64_t size = 0;
    Status st = S3(argv[2]).GetToFd(argv[3], fd, &size, t);
    close(fd);
    return Done(st);
  }
  if (cmd == "compact" && argc == 2) {
    std::vector<std::string> eps;
    std::string all = Env("ETCD_ENDPOINTS");
    std::stringstream ss(all);
    for (std::string e; std::getline(ss, e, ',');) eps.push_back(e);
    EtcdClient etcd(eps);
    auto r = etcd.Range("\x01");
    if (!r.ok()) return Done(r.status());
    std::cout << r->revision << "\n";
    return Done(etcd.Compact(r->revision));
  }
  std::cerr << "usage: remote_tool mb BUCKET | put BUCKET KEY FILE | ls BUCKET PREFIX | compact\n";
  return 2;
}
