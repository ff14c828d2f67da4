// The registry's changes other than pushes, drafts and maintenance: models,
// metadata, aliases, approvals, archiving, and the audit record of a
// refusal. Each is one write transaction that checks its conditions against
// the records as they are in it (SPEC §2: the LMDB commit is the commit
// point).
#include <algorithm>

#include "index/metadata.h"
#include "index/names.h"
#include "index/registry.h"
#include "index/write_txn.h"

namespace modelfs {

namespace {

// Loads model and version for a change, with messages naming MODEL@N.
Status LoadVersion(const Snapshot& s, std::string_view model, uint32_t number, Model* m,
                   Version* v) {
  auto mr = s.GetModel(model);
  if (!mr.ok()) return mr.status();
  *m = *mr;
  auto vr = s.GetVersion(m->id, number);
  if (!vr.ok() && vr.status().code() == Code::kNotFound)
    return Status::NotFound(FormatRef(model, number) + " does not exist");
  if (!vr.ok()) return vr.status();
  *v = *vr;
  return Status::Ok();
}

}  // namespace

Status MoveAlias(WriteTxn& t, const Model& m, Version* v, std::string_view alias,
                 const Actor& who, std::string_view note) {
  Alias a;
  std::string before;
  auto old = t.view().GetAlias(m.id, alias);
  if (old.ok()) {
    a = *old;
    before = "v" + std::to_string(a.version);
  } else if (old.status().code() == Code::kNotFound || old.status().code() == Code::kCorrupt) {
    // A damaged alias record is replaced by the move (the audit says so):
    // moving the alias is how its owner repairs it.
    if (old.status().code() == Code::kCorrupt) before = "(damaged record)";
    auto id = t.NextId();
    if (!id.ok()) return id.status();
    a.id = *id;
    a.name = std::string(alias);
  } else {
    return old.status();
  }
  a.version = v->number;
  a.updated_at_ns = NowNs();
  a.updated_by = who.name;
  MODELFS_RETURN_IF_ERROR(t.PutAlias(m.id, a));
  if (std::find(v->past_aliases.begin(), v->past_aliases.end(), a.name) == v->past_aliases.end()) {
    v->past_aliases.push_back(a.name);
    MODELFS_RETURN_IF_ERROR(t.PutVersion(*v));
  }
  AuditRecord r = MakeAudit(who, "alias", m.name, v->number, a.name, m.name + "/" + a.name,
                            before, "v" + std::to_string(v->number));
  r.reason = std::string(note);
  return t.Audit(r);
}

Result<Model> Registry::CreateModel(std::string_view name, const Actor& who) {
  MODELFS_RETURN_IF_ERROR(CheckModelName(name));
  Model m;
  MODELFS_RETURN_IF_ERROR(Write([&](WriteTxn& t) -> Status {
    auto existing = t.view().GetModel(name);
    if (existing.ok()) return Status::Exists("model " + std::string(name) + " already exists");
    if (existing.status().code() != Code::kNotFound) return existing.status();
    auto made = NewModel(t, name, who);
    if (!made.ok()) return made.status();
    m = std::move(*made);
    MODELFS_RETURN_IF_ERROR(t.PutModel(m));
    MODELFS_RETURN_IF_ERROR(
        t.Audit(MakeAudit(who, "create", m.name, 0, "", m.name, "", "model")));
    return t.Commit();
  }));
  return m;
}

Status Registry::SetMeta(std::string_view model, uint32_t number,
                         const std::vector<MetaChange>& changes, const Actor& who) {
  if (changes.empty()) return Status::Invalid("nothing to set");
  return Write([&](WriteTxn& t) -> Status {
    Model m;
    Version v;
    MODELFS_RETURN_IF_ERROR(LoadVersion(t.view(), model, number, &m, &v));
    if (v.state == State::kArchived)
      return Status::ReadOnly(v.ref() + " is archived: its metadata cannot change");
    for (const auto& c : changes) {
      std::string before, after;
      MODELFS_RETURN_IF_ERROR(ApplyMeta(t.view(), &v, c, &before, &after));
      MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, c.value ? "set" : "unset", v.model, v.number,
                                                "", v.ref() + " " + c.key, before, after)));
    }
    MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
    return t.Commit();
  });
}

Status Registry::SetAlias(std::string_view model, std::string_view alias, uint32_t number,
                          const Actor& who, const Guard& guard, AliasMode mode) {
  MODELFS_RETURN_IF_ERROR(CheckAliasName(alias));
  return Write([&](WriteTxn& t) -> Status {
    auto m = t.view().GetModel(model);
    if (!m.ok()) return m.status();
    auto cur = t.view().GetAlias(m->id, alias);
    // A damaged alias record exists, and moving the alias replaces it.
    bool damaged = cur.status().code() == Code::kCorrupt;
    if (!cur.ok() && !damaged && cur.status().code() != Code::kNotFound) return cur.status();
    std::string name = m->name + "/" + std::string(alias);
    if (mode == AliasMode::kCreate && (cur.ok() || damaged))
      return Status::Exists("alias " + name + " already exists");
    if (mode == AliasMode::kReplace && !cur.ok() && !damaged)
      return Status::NotFound("alias " + name + " does not exist");
    MODELFS_RETURN_IF_ERROR(t.view().CheckAliasTarget(*m, alias, number));
    auto v = t.view().GetVersion(m->id, number);
    if (!v.ok()) return v.status();
    std::string note;
    if (guard) MODELFS_RETURN_IF_ERROR(guard(t.view(), *v, &note));
    if (cur.ok() && cur->version == number) return Status::Ok();  // already there
    MODELFS_RETURN_IF_ERROR(MoveAlias(t, *m, &*v, alias, who, note));
    return t.Commit();
  });
}

Status Registry::DeleteAlias(std::string_view model, std::string_view alias, const Actor& who) {
  if (alias == "latest") return Status::Invalid("latest is computed and cannot be deleted");
  MODELFS_RETURN_IF_ERROR(CheckAliasName(alias));
  return Write([&](WriteTxn& t) -> Status {
    auto m = t.view().GetModel(model);
    if (!m.ok()) return m.status();
    auto a = t.view().GetAlias(m->id, alias);
    if (!a.ok() && a.status().code() == Code::kNotFound)
      return Status::NotFound("alias " + std::string(model) + "/" + std::string(alias) +
                              " does not exist");
    // A damaged alias record can be deleted: that is how its owner repairs it.
    if (!a.ok() && a.status().code() != Code::kCorrupt) return a.status();
    std::string before = a.ok() ? "v" + std::to_string(a->version) : "(damaged record)";
    MODELFS_RETURN_IF_ERROR(t.DelAlias(m->id, alias));
    std::string object = m->name + "/" + std::string(alias);
    MODELFS_RETURN_IF_ERROR(t.Audit(
        MakeAudit(who, "unalias", m->name, a.ok() ? a->version : 0, alias, object, before, "")));
    return t.Commit();
  });
}

Status Registry::Approve(std::string_view model, uint32_t number, bool approve,
                         std::string_view comment, const Actor& who) {
  MODELFS_RETURN_IF_ERROR(CheckText("approval comment", comment));
  return Write([&](WriteTxn& t) -> Status {
    Model m;
    Version v;
    MODELFS_RETURN_IF_ERROR(LoadVersion(t.view(), model, number, &m, &v));
    if (v.state != State::kReady)
      return Status::Invalid(v.ref() + " is " + std::string(StateName(v.state)) +
                             ": only ready versions can be approved or rejected");
    std::string before = v.approval.status;
    v.approval.status = approve ? "approved" : "rejected";
    v.approval.by = who.name;
    v.approval.at_ns = NowNs();
    v.approval.comment = std::string(comment);
    MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
    AuditRecord r = MakeAudit(who, approve ? "approve" : "reject", m.name, v.number, "", v.ref(),
                              before, v.approval.status);
    r.reason = std::string(comment);
    MODELFS_RETURN_IF_ERROR(t.Audit(r));
    return t.Commit();
  });
}

namespace {

// Moves ready version `model`@`number` to archived (`archive`) or back; a
// version already there is left as it is. An archived version keeps no
// alias, so one an alias points at must not go.
Status SetArchived(Registry* reg, std::string_view model, uint32_t number, bool archive,
                   const Actor& who) {
  return reg->Write([&](WriteTxn& t) -> Status {
    Model m;
    Version v;
    MODELFS_RETURN_IF_ERROR(LoadVersion(t.view(), model, number, &m, &v));
    State from = archive ? State::kReady : State::kArchived;
    State to = archive ? State::kArchived : State::kReady;
    if (v.state == to) return Status::Ok();
    if (v.state != from)
      return Status::Invalid(archive ? v.ref() + " is a draft: discard it instead of archiving it"
                                     : v.ref() + " is a draft, not archived");
    if (archive) {
      Status alias_st;
      auto aliases = t.view().AliasesOf(m.id, number, &alias_st);
      MODELFS_RETURN_IF_ERROR(alias_st);  // a damaged alias may point here
      if (!aliases.empty())
        return Status::Busy(v.ref() + " is the target of alias " + JoinList(aliases) +
                            ": move the alias first");
    }
    v.state = to;
    MODELFS_RETURN_IF_ERROR(t.PutVersion(v));
    MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, archive ? "archive" : "unarchive", m.name,
                                              v.number, "", v.ref(), archive ? "ready" : "archived",
                                              archive ? "archived" : "ready")));
    return t.Commit();
  });
}

}  // namespace

Status Registry::Archive(std::string_view model, uint32_t number, const Actor& who) {
  return SetArchived(this, model, number, true, who);
}

Status Registry::Unarchive(std::string_view model, uint32_t number, const Actor& who) {
  return SetArchived(this, model, number, false, who);
}

Status Registry::SetModelMeta(std::string_view model, const std::vector<MetaChange>& changes,
                              const Actor& who) {
  if (changes.empty()) return Status::Invalid("nothing to set");
  return Write([&](WriteTxn& t) -> Status {
    auto m = t.view().GetModel(model);
    if (!m.ok()) return m.status();
    for (const auto& c : changes) {
      std::string before, after;
      MODELFS_RETURN_IF_ERROR(ApplyModelMeta(&*m, c, &before, &after));
      MODELFS_RETURN_IF_ERROR(t.Audit(MakeAudit(who, c.value ? "set" : "unset", m->name, 0, "",
                                                m->name + " " + c.key, before, after)));
    }
    MODELFS_RETURN_IF_ERROR(t.PutModel(*m));
    return t.Commit();
  });
}

Status Registry::AuditDenied(const Actor& who, std::string_view action, std::string_view model,
                             std::string_view object, std::string_view reason, uint32_t version,
                             std::string_view alias) {
  AuditRecord r = MakeAudit(who, action, model, version, alias, object, "", "");
  r.allowed = false;
  r.reason = std::string(reason);
  return Write([&](WriteTxn& t) -> Status {
    MODELFS_RETURN_IF_ERROR(t.Audit(r));
    return t.Commit();
  });
}

}  // namespace modelfs
