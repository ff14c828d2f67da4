// Aliases as symlinks in a model directory (SPEC §4): `ln -s vN ALIAS`
// creates one, GNU `ln -sfn` makes a temporary symlink (kept in memory,
// PendingLinks) and renames it over the alias, `rm ALIAS` deletes it. The
// alias itself is moved by Registry::SetAlias, with the policy's gates run
// in its transaction through the Enforcer.
#include <cerrno>
#include <cstring>
#include <functional>

#include "fs/handlers.h"
#include "index/names.h"

namespace modelfs::fs {

namespace {

// Moves `alias` of the model to `target` ("vN" as ln gives it) with the
// gates run at commit time.
Status MoveAlias(fuse_req_t req, const Node& model_dir, const std::string& alias,
                 const std::string& target, AliasMode mode) {
  Server& srv = S(req);
  uint32_t number = ParseVersionDir(target);
  if (number == 0)
    return Status::Invalid("an alias of " + model_dir.model + " points at v<N> of its own model, not " +
                           target);
  auto caller = CallerOf(req);
  if (!caller.ok()) return caller.status();
  const policy::Identity& who = *caller;
  std::string object = model_dir.model + "/" + alias + " -> " + target;
  return srv.enforcer->WithGates(who, model_dir.model, alias, /*force=*/false, object,
                                 [&](const Guard& gates) {
                                   return srv.reg->SetAlias(model_dir.model, alias, number,
                                                            policy::Enforcer::ActorOf(who), gates,
                                                            mode);
                                 });
}

// Runs `finish` (an alias move and its reply) here, or, when moving
// `alias` runs a check gate (minutes), on a thread of its own so that this
// worker goes back to serving others; `ln` waits for the reply either way.
void OffThreadIfChecked(fuse_req_t req, const std::string& alias, std::function<void()> finish) {
  Server& srv = S(req);
  if (!srv.enforcer->HasCheck(alias)) return finish();
  Status st = srv.slow.Start(std::move(finish));
  if (!st.ok()) ReplyStatus(req, st);
}

// Whether `name` may stand in a model directory as a symlink: an alias
// name, or one of ln's temporaries; otherwise why not.
Status LinkName(const Node& dir, const std::string& name) {
  Status bad = CheckAliasName(name);
  if (bad.ok() || IsLnTemporary(name)) return Status::Ok();
  return Status::Invalid(dir.model + "/" + name + ": " + bad.message());
}

}  // namespace

Child PendingChild(Server& srv, const Node& model_dir, const std::string& name,
                   const PendingLinks::Link& l) {
  return srv.tree->LinkChild(model_dir, NodeKind::kPending, l.ino, name, l.target, l.created_ns);
}

void SymLink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Server& srv = S(req);
  Node dir;
  if (!GetNode(req, parent, &dir)) return;
  if (dir.kind != NodeKind::kModel) {
    if (dir.kind == NodeKind::kRoot)
      return ReplyStatus(req, Status::Invalid(std::string("symlink ") + name + ": " + kHolds));
    return DraftSymLink(req, dir, link, name);  // seal decides what it may lead to
  }
  std::string nm(name);
  if (IsCard(dir, nm)) return ReplyStatus(req, CardReadOnly(dir.model, "symlink"));
  if (Status bad = LinkName(dir, nm); !bad.ok()) return ReplyStatus(req, bad);
  if (!Allowed(req, policy::Operation::kSetAlias, dir.model)) return;
  if (!CheckAliasName(nm).ok()) {
    // ln -sfn's temporary: kept in memory until renamed over the alias. Its
    // target is checked now so that ln fails at once; the rename checks it
    // again in the transaction that moves the alias.
    uint32_t number = ParseVersionDir(link);
    auto snap = srv.reg->Read();
    if (!snap.ok()) return ReplyStatus(req, snap.status());
    auto m = snap->GetModel(dir.model);
    if (!m.ok()) return ReplyStatus(req, m.status());
    Status target = number ? snap->CheckAliasTarget(*m, nm, number)
                           : Status::Invalid(dir.model + "/" + nm + " -> " + link +
                                             ": an alias points at v<N> of its own model");
    if (!target.ok()) return ReplyStatus(req, target);
    auto l = srv.pending.Add(dir.model_id, nm, link);
    if (!l.ok()) return ReplyStatus(req, l.status());
    return ReplyEntry(req, PendingChild(srv, dir, nm, *l));
  }
  auto finish = [req, dir, nm, target = std::string(link)] {
    Status st = MoveAlias(req, dir, nm, target, AliasMode::kCreate);
    if (!st.ok()) return ReplyStatus(req, st);
    ReplyIndexEntry(req, dir, nm.c_str());
  };
  OffThreadIfChecked(req, nm, std::move(finish));
}

void UnlinkAlias(fuse_req_t req, const Node& dir, const std::string& name) {
  Server& srv = S(req);
  if (name == "latest")
    return ReplyStatus(req, Status::Invalid(dir.model + "/latest is computed and cannot be removed"));
  if (!Allowed(req, policy::Operation::kDeleteAlias, dir.model)) return;
  if (!CheckAliasName(name).ok()) return Err(req, srv.pending.Remove(dir.model_id, name) ? 0 : ENOENT);
  ReplyChanged(req, srv.reg->DeleteAlias(dir.model, name, ActorOf(req)));
}

void RenameInModel(fuse_req_t req, const Node& dir, const std::string& from, const std::string& to,
                   unsigned flags) {
  // Only ln -sfn's commit (a pending temporary renamed over an alias name)
  // or a temporary renamed to another temporary.
  Server& srv = S(req);
  auto l = CheckAliasName(from).ok() ? std::nullopt : srv.pending.Get(dir.model_id, from);
  if (!l)
    return ReplyStatus(req, Status::Invalid("rename " + dir.model + "/" + from + " -> " + to +
                                            ": versions and aliases are not renamed (ln -sfn vN "
                                            "ALIAS moves an alias)"));
  if (flags & RENAME_EXCHANGE)
    return ReplyStatus(req, Status::Invalid("rename " + dir.model + "/" + from + " <-> " + to +
                                            ": aliases are not exchanged"));
  if (Status bad = LinkName(dir, to); !bad.ok()) return ReplyStatus(req, bad);
  if (!Allowed(req, policy::Operation::kSetAlias, dir.model)) return;
  if (!CheckAliasName(to).ok()) {
    // Temporary to temporary: the kernel now names the node by `to`.
    Status st = srv.pending.Rename(dir.model_id, from, to, flags & RENAME_NOREPLACE);
    if (st.ok()) srv.nodes.Update(l->ino, [&](Node& n) { n.name = to; });
    return ReplyStatus(req, st);
  }
  auto finish = [req, dir, from, to, link = *l, flags] {
    Server& srv = S(req);
    Status st = MoveAlias(req, dir, to, link.target,
                          (flags & RENAME_NOREPLACE) ? AliasMode::kCreate : AliasMode::kSet);
    if (!st.ok()) return ReplyStatus(req, st);  // the temporary stays: ln removes it
    srv.pending.Remove(dir.model_id, from);
    // The kernel now names the alias by the temporary's inode: resolve it
    // by name until the freshness thread makes the kernel look it up again.
    srv.nodes.Update(link.ino, [&](Node& n) {
      n.kind = NodeKind::kAlias;
      n.name = to;
      n.by_name = true;
    });
    srv.tree->Changed();
    fuse_reply_err(req, 0);
  };
  OffThreadIfChecked(req, to, std::move(finish));
}

}  // namespace modelfs::fs
