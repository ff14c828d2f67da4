// Large transfers of the S3 client (s3.h): a blob streamed from its file
// into a PUT, and an object fetched with parallel ranged GETs written at
// their offsets. Neither ever holds a whole body in memory.
//
// Download: the first GET asks for the first part (Range: bytes=0-P-1); its
// Content-Range gives the object's size, so a small blob costs one request
// and no HEAD. The remaining parts are fetched by up to `parallel` threads,
// each taking the next part from a shared counter. Threads rather than a
// curl multi handle: the parts are few and large (8 MiB), Http::Stream
// already gives us a cancellable streaming request, and a part's retries
// stay local to its thread.
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <memory>
#include <mutex>
#include <thread>

#include "index/remote/s3.h"

namespace modelfs::remote {

std::vector<std::pair<uint64_t, uint64_t>> SplitRanges(uint64_t from, uint64_t total,
                                                       uint64_t part) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (part == 0) return out;
  for (uint64_t b = from; b < total; b += std::min(part, total - b))
    out.emplace_back(b, b + std::min(part, total - b));
  return out;
}

std::optional<ContentRange> ParseContentRange(std::string_view h) {
  constexpr std::string_view kUnit = "bytes ";
  if (h.substr(0, kUnit.size()) != kUnit) return std::nullopt;
  h.remove_prefix(kUnit.size());
  auto num = [&](uint64_t* v, char stop) {
    auto [p, ec] = std::from_chars(h.data(), h.data() + h.size(), *v);
    if (ec != std::errc() || p == h.data()) return false;
    h.remove_prefix(static_cast<size_t>(p - h.data()));
    if (stop == '\0') return h.empty();
    if (h.empty() || h[0] != stop) return false;
    h.remove_prefix(1);
    return true;
  };
  ContentRange r;
  if (!num(&r.first, '-') || !num(&r.last, '/') || !num(&r.total, '\0')) return std::nullopt;
  if (r.last < r.first || r.last >= r.total) return std::nullopt;
  return r;
}

namespace {

// One attempt's outcome: whether another attempt may help.
struct PartError {
  Status status;
  bool retry = false;
};

}  // namespace

Status S3Client::GetPart(const std::string& key, uint64_t begin, uint64_t len, int fd,
                         uint64_t* total, const Transfer& opt) const {
  std::string what = "GET " + config_.bucket + "/" + key + " bytes " + std::to_string(begin) +
                     "-" + std::to_string(begin + len - 1);
  auto attempt = [&]() -> PartError {
    HttpRequest req = Request("GET", key, {}, Sha256Hex(""));
    req.headers.push_back("Range: bytes=" + std::to_string(begin) + "-" +
                          std::to_string(begin + len - 1));
    HttpResponse head;
    uint64_t written = 0;
    std::string error_body;  // a non-2xx answer's (small) error document
    Status write_error;
    bool local_error = false;  // our disk, not the store: retrying will not help
    auto last = std::chrono::steady_clock::now();
    bool stalled = false;
    Status st = http_.Stream(
        req, &head,
        [&](const char* data, size_t n) {
          last = std::chrono::steady_clock::now();
          if (head.status != 200 && head.status != 206) {
            if (error_body.size() < 65536) error_body.append(data, n);
            return true;
          }
          // A 206 beyond its range, or a 200 for a later part: the store
          // is not answering what we asked; never write past our part.
          if (head.status == 206 && written + n > len) {
            write_error = Status::IO("S3 " + what + ": more bytes than asked for");
            return false;
          }
          if (head.status == 200 && begin != 0) {
            write_error = Status::IO("S3 " + what + ": the store ignored the Range header");
            return false;
          }
          for (size_t off = 0; off < n;) {
            ssize_t w = pwrite(fd, data + off, n - off, static_cast<off_t>(begin + written + off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
              write_error = Status::FromErrno("cannot write the fetched blob", errno);
              local_error = true;
              return false;
            }
            off += static_cast<size_t>(w);
          }
          written += n;
          return true;
        },
        [&] {
          stalled = std::chrono::steady_clock::now() - last > opt.stall;
          return stalled;
        });
    if (!write_error.ok()) return {write_error, !local_error};
    if (stalled)
      return {Status::IO("S3 " + what + ": nothing received for " +
                         std::to_string(opt.stall.count()) + " ms"),
              true};
    if (!st.ok()) return {st, true};
    if (head.status == 416 && begin == 0) {
      // An empty object has no byte 0: S3 answers InvalidRange.
      auto h = Head(key);
      if (!h.ok()) return {h.status(), h.status().code() == Code::kIO};
      if (h->size != 0) return {Status::IO("S3 " + what + ": InvalidRange"), true};
      *total = 0;
      return {};
    }
    if (head.status == 200) {  // the whole object (begin == 0, checked above)
      auto cl = head.headers.find("content-length");
      uint64_t want = written;
      if (cl != head.headers.end()) {
        auto [p, ec] = std::from_chars(cl->second.data(), cl->second.data() + cl->second.size(), want);
        if (ec != std::errc() || p != cl->second.data() + cl->second.size()) want = ~uint64_t{0};
      }
      if (want != written) return {Status::IO("S3 " + what + ": the body ended early"), true};
      *total = written;
      return {};
    }
    if (head.status != 206) {
      Status e = S3Status(what, head.status, error_body);
      return {e, RetryableStatus(head.status)};
    }
    auto cr = head.headers.find("content-range");
    auto range = cr == head.headers.end() ? std::nullopt : ParseContentRange(cr->second);
    if (!range || range->first != begin)
      return {Status::IO("S3 " + what + ": bad Content-Range \"" +
                         (cr == head.headers.end() ? "" : cr->second) + "\""),
              false};
    uint64_t expect = range->last - range->first + 1;
    if (written != expect || (expect != len && range->last + 1 != range->total))
      return {Status::IO("S3 " + what + ": the body ended early (" + std::to_string(written) +
                         " of " + std::to_string(expect) + " bytes)"),
              true};
    *total = range->total;
    return {};
  };
  auto backoff = std::chrono::milliseconds(200);
  for (int n = 1;; ++n) {
    PartError e = attempt();
    if (e.status.ok()) return Status::Ok();
    if (!e.retry || n >= opt.part_attempts)
      return n > 1 ? e.status.WithContext("after " + std::to_string(n) + " attempts") : e.status;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

Status S3Client::GetToFd(const std::string& key, int fd, uint64_t* size,
                         const Transfer& opt) const {
  uint64_t total = 0;
  MODELFS_RETURN_IF_ERROR(GetPart(key, 0, opt.part_size, fd, &total, opt));
  auto parts = SplitRanges(std::min(opt.part_size, total), total, opt.part_size);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first_error;
  auto work = [&] {
    for (size_t i; !failed.load() && (i = next.fetch_add(1)) < parts.size();) {
      uint64_t ignored = 0;
      Status st = GetPart(key, parts[i].first, parts[i].second - parts[i].first, fd, &ignored, opt);
      if (!st.ok()) {
        std::lock_guard<std::mutex> g(mu);
        if (first_error.ok()) first_error = st;
        failed = true;
      }
    }
  };
  size_t threads = std::min<size_t>(static_cast<size_t>(std::max(1, opt.parallel)), parts.size());
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();  // this thread is one of them
  for (auto& t : pool) t.join();
  if (!first_error.ok()) return first_error;
  *size = total;
  return Status::Ok();
}

Status S3Client::PutFile(const std::string& key, int fd, uint64_t size) const {
  // SHA-256, as S3 wants it, in one pass over the file (the registry's own
  // digest is XXH3, which S3 does not know).
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  constexpr size_t kChunk = 1 << 20;
  std::unique_ptr<char[]> buf(new char[kChunk]);
  for (uint64_t off = 0; off < size;) {
    ssize_t n = pread(fd, buf.get(), static_cast<size_t>(std::min<uint64_t>(kChunk, size - off)),
                      static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("cannot read the blob to upload as " + key, errno);
    if (n == 0) return Status::IO("the blob to upload as " + key + " shrank while read");
    EVP_DigestUpdate(ctx.get(), buf.get(), static_cast<size_t>(n));
    off += static_cast<uint64_t>(n);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string sha;
  for (unsigned i = 0; i < len; ++i) {
    sha += kHex[md[i] >> 4];
    sha += kHex[md[i] & 15];
  }
  HttpRequest req = Request("PUT", key, {}, sha);
  req.body_fd = fd;
  req.body_fd_size = size;
  auto r = http_.Send(req);
  if (!r.ok()) return r.status();
  if (r->status < 200 || r->status >= 300)
    return S3Status("PUT " + config_.bucket + "/" + key, r->status, r->body);
  return Status::Ok();
}

}  // namespace modelfs::remote
