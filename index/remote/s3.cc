// The S3 client (s3.h). Sections: encoding and hashing; XML (the three
// response shapes we read, S3's flat documents, not a general parser);
// error mapping; requests.
#include "index/remote/s3.h"

#include <openssl/evp.h>

#include <charconv>

namespace modelfs::remote {

// --- Encoding and hashing ---

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string CanonicalQuery(const std::map<std::string, std::string>& query) {
  // Sorting by the raw name equals sorting by the encoded one for the
  // parameter names S3 uses (lower-case letters and '-').
  std::string out;
  for (const auto& [name, value] : query) {
    if (!out.empty()) out += '&';
    out += UriEncode(name, false) + "=" + UriEncode(value, false);
  }
  return out;
}

std::string ObjectPath(const std::string& bucket, const std::string& key) {
  std::string path = "/" + UriEncode(bucket, false);
  if (!key.empty()) path += "/" + UriEncode(key, true);
  return path;
}

// --- XML ---

std::string XmlUnescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out += s.substr(i);
      break;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      unsigned long cp = 0;
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc() || p != digits.data() + digits.size() || cp > 0x10FFFF) {
        out += s.substr(i, semi - i + 1);  // not a reference: kept as written
      } else if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out += s.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

namespace {

// The text of the first <tag ...>...</tag> in `xml` at or after `from`
// (attributes skipped; <tag/> is empty); `*end` is set past it. S3's
// documents hold no CDATA, comments or nested same-name tags.
std::optional<std::string_view> Element(std::string_view xml, std::string_view tag, size_t from = 0,
                                        size_t* end = nullptr) {
  std::string open = "<" + std::string(tag);
  for (size_t b = xml.find(open, from); b != std::string_view::npos; b = xml.find(open, b + 1)) {
    size_t after = b + open.size();
    if (after >= xml.size()) return std::nullopt;
    char c = xml[after];
    if (c != '>' && c != '/' && c != ' ' && c != '\t' && c != '\r' && c != '\n') continue;  // <TagLonger>
    size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) return std::nullopt;
    if (xml[gt - 1] == '/') {
      if (end != nullptr) *end = gt + 1;
      return std::string_view();
    }
    std::string close = "</" + std::string(tag) + ">";
    size_t e = xml.find(close, gt + 1);
    if (e == std::string_view::npos) return std::nullopt;
    if (end != nullptr) *end = e + close.size();
    return xml.substr(gt + 1, e - gt - 1);
  }
  return std::nullopt;
}

std::string Unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

std::optional<S3Error> ParseS3Error(std::string_view xml) {
  auto err = Element(xml, "Error");
  if (!err) return std::nullopt;
  auto code = Element(*err, "Code");
  if (!code) return std::nullopt;
  auto msg = Element(*err, "Message");
  return S3Error{XmlUnescape(*code), msg ? XmlUnescape(*msg) : std::string()};
}

Result<S3ListPage> ParseListObjectsV2(std::string_view xml) {
  auto root = Element(xml, "ListBucketResult");
  if (!root) return Status::Invalid("ListObjectsV2: the response is not a ListBucketResult");
  S3ListPage page;
  auto truncated = Element(*root, "IsTruncated");
  page.truncated = truncated && *truncated == "true";
  if (auto tok = Element(*root, "NextContinuationToken")) page.next_token = XmlUnescape(*tok);
  if (page.truncated && page.next_token.empty()) {
    return Status::Invalid("ListObjectsV2: truncated without a NextContinuationToken");
  }
  size_t pos = 0, end = 0;
  while (auto c = Element(*root, "Contents", pos, &end)) {
    pos = end;
    auto key = Element(*c, "Key");
    auto size = Element(*c, "Size");
    if (!key || !size) return Status::Invalid("ListObjectsV2: an entry without Key or Size");
    S3Object o;
    o.key = XmlUnescape(*key);
    auto [p, ec] = std::from_chars(size->data(), size->data() + size->size(), o.size);
    if (ec != std::errc() || p != size->data() + size->size()) {
      return Status::Invalid("ListObjectsV2: bad Size \"" + std::string(*size) + "\" of " + o.key);
    }
    if (auto etag = Element(*c, "ETag")) o.etag = Unquote(XmlUnescape(*etag));
    page.objects.push_back(std::move(o));
  }
  return page;
}

// --- Error mapping ---

Status S3Status(const std::string& what, long http_status, std::string_view body) {
  auto err = ParseS3Error(body);
  std::string code = err ? err->code : "";
  if (code.empty()) {
    // HEAD has no body; some proxies answer with HTML.
    code = http_status == 404 ? "NotFound" : "HTTP " + std::to_string(http_status);
  }
  std::string msg = "S3 " + what + ": " + code;
  if (err && !err->message.empty()) msg += ": " + err->message;
  if (code == "NoSuchKey" || code == "NoSuchBucket" || code == "NotFound") return Status::NotFound(msg);
  if (code == "BadDigest" || code == "InvalidDigest" || code == "XAmzContentSHA256Mismatch") {
    return Status::Corrupt(msg);
  }
  if (code == "AccessDenied" || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
      http_status == 401 || http_status == 403) {
    return Status::NoAccess(msg);
  }
  if (code == "BucketAlreadyExists" || code == "BucketAlreadyOwnedByYou") return Status::Exists(msg);
  if (code == "EntityTooLarge") return Status::TooBig(msg);
  if (http_status >= 500) return Status::IO(msg);
  return Status::Invalid(msg);
}

// --- Requests ---

S3Client::S3Client(S3Config config) : config_(std::move(config)), http_(config_.retry) {}

HttpRequest S3Client::Request(const std::string& method, const std::string& key,
                              const std::map<std::string, std::string>& query,
                              const std::string& sha256) const {
  HttpRequest req;
  req.method = method;
  req.url = config_.endpoint + ObjectPath(config_.bucket, key);
  std::string q = CanonicalQuery(query);
  if (!q.empty()) req.url += "?" + q;
  req.headers.push_back("x-amz-content-sha256: " + sha256);
  req.aws_sigv4 = "aws:amz:" + config_.region + ":s3";
  req.aws_key_id = config_.access_key_id;
  req.aws_secret = config_.secret_access_key;
  return req;
}

Result<HttpResponse> S3Client::Call(const std::string& method, const std::string& key,
                                    const std::map<std::string, std::string>& query,
                                    const std::string& body, const std::string& sha256) const {
  HttpRequest req = Request(method, key, query, sha256);
  req.body = body;
  return http_.Send(req);
}

namespace {
std::string What(const std::string& method, const std::string& bucket, const std::string& key) {
  return method + " " + bucket + (key.empty() ? "" : "/" + key);
}
bool Ok2xx(long s) { return s >= 200 && s < 300; }
}  // namespace

Status S3Client::CreateBucket() const {
  auto r = Call("PUT", "", {}, "", Sha256Hex(""));
  if (!r.ok()) return r.status();
  if (!Ok2xx(r->status)) return S3Status(What("PUT", config_.bucket, ""), r->status, r->body);
  return Status::Ok();
}

Status S3Client::Put(const std::string& key, const std::string& body) const {
  return PutDeclaringSha256(key, body, Sha256Hex(body));
}

Status S3Client::PutDeclaringSha256(const std::string& key, const std::string& body,
                                    const std::string& content_sha256) const {
  auto r = Call("PUT", key, {}, body, content_sha256);
  if (!r.ok()) return r.status();
  if (!Ok2xx(r->status)) return S3Status(What("PUT", config_.bucket, key), r->status, r->body);
  return Status::Ok();
}

Result<std::string> S3Client::Get(const std::string& key) const {
  auto r = Call("GET", key, {}, "", Sha256Hex(""));
  if (!r.ok()) return r.status();
  if (!Ok2xx(r->status)) return S3Status(What("GET", config_.bucket, key), r->status, r->body);
  return std::move(r->body);
}

Result<S3Object> S3Client::Head(const std::string& key) const {
  auto r = Call("HEAD", key, {}, "", Sha256Hex(""));
  if (!r.ok()) return r.status();
  if (!Ok2xx(r->status)) return S3Status(What("HEAD", config_.bucket, key), r->status, r->body);
  S3Object o;
  o.key = key;
  auto len = r->headers.find("content-length");
  if (len == r->headers.end()) {
    return Status::Invalid("S3 " + What("HEAD", config_.bucket, key) + ": no Content-Length");
  }
  auto [p, ec] = std::from_chars(len->second.data(), len->second.data() + len->second.size(), o.size);
  if (ec != std::errc() || p != len->second.data() + len->second.size()) {
    return Status::Invalid("S3 " + What("HEAD", config_.bucket, key) + ": bad Content-Length \"" +
                           len->second + "\"");
  }
  if (auto e = r->headers.find("etag"); e != r->headers.end()) o.etag = Unquote(e->second);
  return o;
}

Status S3Client::Delete(const std::string& key) const {
  auto r = Call("DELETE", key, {}, "", Sha256Hex(""));
  if (!r.ok()) return r.status();
  // 404 on DELETE: Swift's s3api says NoSuchKey where AWS says 204; either
  // way the object is gone.
  if (r->status == 404) {
    auto err = ParseS3Error(r->body);
    if (!err || err->code == "NoSuchKey") return Status::Ok();
  }
  if (!Ok2xx(r->status)) return S3Status(What("DELETE", config_.bucket, key), r->status, r->body);
  return Status::Ok();
}

Result<std::vector<S3Object>> S3Client::List(const std::string& prefix, int page_size) const {
  std::vector<S3Object> all;
  std::string token;
  for (;;) {
    std::map<std::string, std::string> q{{"list-type", "2"},
                                         {"max-keys", std::to_string(page_size)},
                                         {"prefix", prefix}};
    if (!token.empty()) q["continuation-token"] = token;
    auto r = Call("GET", "", q, "", Sha256Hex(""));
    if (!r.ok()) return r.status();
    if (!Ok2xx(r->status)) {
      return S3Status("ListObjectsV2 " + config_.bucket + "/" + prefix, r->status, r->body);
    }
    auto page = ParseListObjectsV2(r->body);
    if (!page.ok()) return page.status().WithContext("S3 " + config_.bucket + "/" + prefix);
    for (auto& o : page->objects) all.push_back(std::move(o));
    if (!page->truncated) return all;
    token = page->next_token;
  }
}

}  // namespace modelfs::remote
