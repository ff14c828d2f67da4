// Metadata as extended attributes (SPEC §3): reading lists what index/'s
// metadata table says a node has; writing maps the xattr to a Registry
// call (SetMeta, SetModelMeta, Seal, Archive, Approve) whose transaction decides EEXIST,
// ENODATA, EINVAL and EROFS.
#include <sys/xattr.h>

#include <cerrno>
#include <cstring>

#include "fs/handlers.h"

namespace modelfs::fs {

// xattr(7): size 0 asks for the length; a shorter buffer is ERANGE.
void ReplyXattr(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) fuse_reply_xattr(req, value.size());
  else if (size < value.size()) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, value.data(), value.size());
}

void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  // Only user.* exist; the kernel asks for security.* and system.* on many
  // operations, so answer those without reading the index.
  if (strncmp(name, "user.", 5) != 0) {
    fuse_reply_err(req, ENODATA);
    return;
  }
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!AllowedToRead(req, n)) return;
  if (name == policy::kWhyXattr) {
    // The caller's own refusals, by the uid the kernel gives: on the root
    // all of them, elsewhere the latest on the node's model.
    const policy::Refusals& r = S(req).enforcer->refusals();
    uint32_t uid = fuse_req_ctx(req)->uid;
    std::string why = n.kind == NodeKind::kRoot ? r.All(uid) : r.Latest(uid, n.model).value_or("");
    if (why.empty()) return Err(req, ENODATA);
    return ReplyXattr(req, why, size);
  }
  auto xs = S(req).tree->GetXattrs(n);
  if (!xs.ok()) return ReplyStatus(req, xs.status());
  for (const auto& [k, v] : **xs)
    if (k == name) return ReplyXattr(req, v, size);
  fuse_reply_err(req, ENODATA);
}

void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (!AllowedToRead(req, n)) return;
  auto xs = S(req).tree->GetXattrs(n);
  if (!xs.ok()) return ReplyStatus(req, xs.status());
  std::string names;
  for (const auto& [k, v] : **xs) {
    names += k;
    names.push_back('\0');
  }
  ReplyXattr(req, names, size);
}

namespace {

// What setfattr/removexattr may change on a node: versions, and a model's
// own description and owner (handled by ModelXattr first). Replies and
// returns false for other nodes.
bool VersionNode(fuse_req_t req, const Node& n, int other) {
  switch (n.kind) {
    case NodeKind::kVersion: return true;
    case NodeKind::kFile:
    case NodeKind::kDir: fuse_reply_err(req, EROFS); return false;
    case NodeKind::kCard: ReplyStatus(req, CardReadOnly(n.model, "setxattr")); return false;
    case NodeKind::kModel:
      ReplyStatus(req, Status::Invalid(n.model + ": metadata is set on a version (" + n.model +
                                       "/v<N>), not on its model"));
      return false;
    default: fuse_reply_err(req, other); return false;  // drafts' files: not kept
  }
}

// Sets user.registry.state: ready seals a draft or unarchives an archived
// version, archived archives.
void SetState(fuse_req_t req, const Node& n, const std::string& val) {
  Server& srv = S(req);
  if (val == "ready") {
    // Which change "ready" is depends on the state now (the policy differs:
    // write to seal, admin to unarchive); Unarchive itself re-checks it in
    // its transaction, and leaves a version that is ready meanwhile alone.
    auto snap = srv.reg->Read();
    if (!snap.ok()) return ReplyStatus(req, snap.status());
    auto cur = snap->GetVersion(n.model_id, n.version);
    if (!cur.ok()) return ReplyStatus(req, cur.status());
    if (cur->state == State::kArchived) {
      if (!Allowed(req, policy::Operation::kUnarchive, n.model)) return;
      return ReplyChanged(req, srv.reg->Unarchive(n.model, n.version, ActorOf(req)));
    }
    if (!Allowed(req, policy::Operation::kSeal, n.model)) return;
    Actor who = ActorOf(req);
    auto sealed = srv.reg->Seal(n.model, n.version, who);
    if (sealed.ok())
      Log("sealed " + sealed->ref() + " (" + std::to_string(sealed->files) + " files, " +
          std::to_string(sealed->size) + " bytes) for " + who.name);
    return ReplyChanged(req, sealed.status());
  }
  if (val == "archived") {
    if (!Allowed(req, policy::Operation::kArchive, n.model)) return;
    return ReplyChanged(req, srv.reg->Archive(n.model, n.version, ActorOf(req)));
  }
  ReplyStatus(req, Status::Invalid("user.registry.state takes ready or archived, not " +
                                   EscapeText(val)));
}

void SetApproval(fuse_req_t req, const Node& n, const std::string& val) {
  if (val != "approved" && val != "rejected") {
    return ReplyStatus(req, Status::Invalid("user.registry.approval takes approved or rejected, not " +
                                            EscapeText(val)));
  }
  if (!Allowed(req, policy::Operation::kApprove, n.model)) return;
  ReplyChanged(req, S(req).reg->Approve(n.model, n.version, val == "approved", "", ActorOf(req)));
}

// Sets (value given) or removes user.registry.description or .owner of a
// model directory: index/'s ApplyModelMeta decides EEXIST, ENODATA, EINVAL.
void ModelXattr(fuse_req_t req, const Node& n, std::string_view name,
                std::optional<std::string> value, MetaExpect expect) {
  auto key = ModelMetaKeyOfXattr(name);
  if (!key) {
    Log("error: " + std::string(name) +
        " cannot be set on a model (settable: user.registry.description, user.registry.owner)");
    return Err(req, EINVAL);
  }
  if (!Allowed(req, policy::Operation::kSetModelMeta, n.model)) return;
  ReplyChanged(req, S(req).reg->SetModelMeta(n.model, {MetaChange{*key, std::move(value), expect}},
                                             ActorOf(req)));
}

MetaExpect ExpectOf(int flags) {
  return (flags & XATTR_CREATE)    ? MetaExpect::kAbsent
         : (flags & XATTR_REPLACE) ? MetaExpect::kPresent
                                   : MetaExpect::kAny;
}

}  // namespace

void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  if (strncmp(name, "user.", 5) != 0) return Err(req, ENOTSUP);
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (n.kind == NodeKind::kModel)
    return ModelXattr(req, n, name, std::string(value, size), ExpectOf(flags));
  if (!VersionNode(req, n, ENOTSUP)) return;
  std::string val(value, size);
  std::string_view nm(name);
  if (nm == "user.registry.state" || nm == "user.registry.approval") {
    // Always present: they can be replaced, never created.
    if (flags & XATTR_CREATE) return Err(req, EEXIST);
    return nm == "user.registry.state" ? SetState(req, n, val) : SetApproval(req, n, val);
  }
  auto key = MetaKeyOfXattr(nm);
  if (!key) {
    return ReplyStatus(req, Status::Invalid(EscapeText(name) + " cannot be set (settable: " +
                                            SettableNames(true) +
                                            ", user.registry.state, user.registry.approval)"));
  }
  MetaExpect expect = ExpectOf(flags);
  policy::Operation op = expect == MetaExpect::kAny ? policy::Operation::kSetMeta
                                                    : policy::Operation::kSetMetaChecked;
  if (!Allowed(req, op, n.model)) return;
  ReplyChanged(req, S(req).reg->SetMeta(n.model, n.version, {MetaChange{key->name(), val, expect}},
                                        ActorOf(req)));
}

void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Node n;
  if (!GetNode(req, ino, &n)) return;
  if (strncmp(name, "user.", 5) != 0) return Err(req, ENODATA);
  if (n.kind == NodeKind::kModel)
    return ModelXattr(req, n, name, std::nullopt, MetaExpect::kPresent);
  if (!VersionNode(req, n, ENODATA)) return;
  auto key = MetaKeyOfXattr(name);
  if (!key) return Err(req, strncmp(name, "user.registry.", 14) == 0 ? EINVAL : ENODATA);
  if (!Allowed(req, policy::Operation::kSetMeta, n.model)) return;
  // Removing what is absent is ENODATA (xattr(7)), decided in the transaction.
  ReplyChanged(req, S(req).reg->SetMeta(n.model, n.version,
                                        {MetaChange{key->name(), std::nullopt, MetaExpect::kPresent}},
                                        ActorOf(req)));
}

}  // namespace modelfs::fs
