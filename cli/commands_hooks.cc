// `modelfs hooks [ROOT] run|status|test NAME|retry ID`: the hook deliverer
// (hooks/deliver.h) where no mount runs one, what each hook has pending or
// gave up, a synthetic event to try a hook, and a given-up delivery sent
// again. All of them need the admin right: hooks see every event.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "hooks/deliver.h"
#include "index/events.h"

namespace modelfs::cli {
namespace {

using nlohmann::json;
using policy::Operation;

struct HooksArgs {
  std::string root;
  std::string action;  // run, status, test, retry
  std::string arg;     // test: NAME; retry: ID
  bool json = false;
};

void LogLine(const std::string& line) {
  std::cerr << FormatTime(NowNs()) << " " << EscapeText(line) << std::endl;
}

Status RunDeliverer(Session& s) {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  signal(SIGINT, SIG_DFL);  // a background job starts with SIGINT ignored
  signal(SIGTERM, SIG_DFL);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  int sfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return Status::FromErrno("signalfd", errno);
  hooks::Deliverer d(&s.reg(), [&s] { return s.policy(); }, LogLine);
  std::atomic<bool> never{false};
  if (!Quiet()) LogLine("hooks: delivering for " + s.reg().root() + " (Ctrl-C stops)");
  Status st = d.Run(never, sfd);
  close(sfd);
  return st;
}

json StateJson(const Snapshot& snap, const policy::Hook& h, const hooks::HookState& st) {
  uint64_t pending = 0;
  if (st.known) {
    (void)ForEachEvent(snap, st.done, [&](const AuditRecord&, const std::string& type) {
      if (h.Matches(type)) ++pending;
      return true;
    });
  }
  json failed = json::array();
  for (const auto& d : st.failed)
    failed.push_back({{"id", d.id}, {"seq", d.seq}, {"type", d.type}, {"attempts", d.attempts},
                      {"last_attempt", FormatTime(d.last_attempt_ns)}, {"last_error", d.last_error}});
  return {{"name", h.name},
          {"started", st.known},  // false until a deliverer first saw the hook
          {"target", h.url.empty() ? json(h.run) : json(h.url)},
          {"on", h.on},
          {"done", st.done},
          {"pending", pending},
          {"attempts", st.attempts},
          {"next_attempt", st.attempts > 0 ? json(FormatTime(st.next_at_ns)) : json(nullptr)},
          {"last_error", st.last_error.empty() ? json(nullptr) : json(st.last_error)},
          {"failed", failed}};
}

Status Status_(Session& s, bool as_json) {
  auto pol = s.policy();
  auto snap = s.reg().Read();
  if (!snap.ok()) return snap.status();
  if (pol->hooks().empty() && !as_json) {
    std::cout << "no hooks: add [[hooks]] to " << pol->filename() << "\n";
    return Status::Ok();
  }
  json all = json::array();
  for (const auto& h : pol->hooks()) {
    auto st = hooks::LoadState(*snap, h.name);
    if (!st.ok()) return st.status();
    all.push_back(StateJson(*snap, h, *st));
  }
  if (as_json) {
    std::cout << DumpJson(all) << "\n";
    return Status::Ok();
  }
  for (const auto& j : all) {
    std::string line = j["name"].get<std::string>() + ": " + std::to_string(j["pending"].get<uint64_t>()) +
                       " pending, " + std::to_string(j["failed"].size()) + " failed";
    if (j["attempts"].get<int>() > 0)
      line += "; retrying (attempt " + std::to_string(j["attempts"].get<int>()) + ", next " +
              j["next_attempt"].get<std::string>() + "): " + j["last_error"].get<std::string>();
    std::cout << EscapeText(line) << "\n";
    for (const auto& f : j["failed"])
      std::cout << "  failed " << f["id"].get<std::string>() << " (" << f["type"].get<std::string>()
                << ") after " << f["attempts"].get<int>() << " attempts: "
                << EscapeText(f["last_error"].get<std::string>()) << "\n";
  }
  return Status::Ok();
}

Status Report(const std::string& what, const hooks::Attempt& a, bool as_json) {
  if (as_json) {
    std::cout << DumpJson({{"delivery", what},
                           {"ok", a.status.ok()},
                           {"seconds", a.seconds},
                           {"error", a.status.ok() ? json(nullptr) : json(a.status.message())},
                           {"output", a.output}})
              << "\n";
  } else if (a.status.ok() && !Quiet()) {
    std::cout << "delivered " << what << "\n";
  }
  if (!a.status.ok()) return Status::IO("delivery " + what + " failed: " + a.status.message());
  return Status::Ok();
}

Status Test(Session& s, const std::string& name, bool as_json) {
  auto pol = s.policy();
  const policy::Hook* h = pol->hook(name);
  if (h == nullptr) return Status::NotFound("no hook named " + name + " in " + pol->filename());
  AuditRecord r;
  r.at_ns = NowNs();
  r.uid = s.actor().uid;
  r.user = s.actor().name;
  r.action = "test";
  r.object = "hooks test " + name;
  json ev = EventJson(r);
  ev["type"] = "test";
  std::string id = name + "-test-" + std::to_string(r.at_ns);
  return Report(id, hooks::Send(*h, ev, id, pol->hook_user()), as_json);
}

Status Retry(Session& s, const std::string& id, bool as_json) {
  auto pol = s.policy();
  size_t dash = id.rfind('-');
  std::string name = dash == std::string::npos ? "" : id.substr(0, dash);
  const policy::Hook* h = pol->hook(name);
  if (h == nullptr) return Status::NotFound("no hook for delivery " + id + " (IDs are NAME-SEQ)");
  hooks::HookState st;
  AuditRecord rec;
  bool found_event = false;
  {
    auto snap = s.reg().Read();
    if (!snap.ok()) return snap.status();
    auto loaded = hooks::LoadState(*snap, name);
    if (!loaded.ok()) return loaded.status();
    st = std::move(*loaded);
    auto it = std::find_if(st.failed.begin(), st.failed.end(), [&](const hooks::Delivery& d) { return d.id == id; });
    if (it == st.failed.end())
      return Status::NotFound("no failed delivery " + id + " (see modelfs hooks status)");
    MODELFS_RETURN_IF_ERROR(ForEachEvent(*snap, it->seq - 1, [&](const AuditRecord& r, const std::string&) {
      if (r.seq == it->seq) {
        rec = r;
        found_event = true;
      }
      return false;
    }));
  }
  if (!found_event)
    return Status::NotFound("event " + id.substr(dash + 1) + " of delivery " + id +
                            " is no longer in the event log (audit retention removed it)");
  hooks::Attempt a = hooks::Send(*h, EventJson(rec), id, pol->hook_user());
  // Re-read: the deliverer may have changed the record meanwhile.
  auto snap = s.reg().Read();
  if (!snap.ok()) return snap.status();
  auto now = hooks::LoadState(*snap, name);
  if (!now.ok()) return now.status();
  for (auto& d : now->failed) {
    if (d.id != id) continue;
    if (a.status.ok()) {
      d.id.clear();
    } else {
      ++d.attempts;
      d.last_attempt_ns = NowNs();
      d.last_error = a.status.message();
    }
  }
  std::erase_if(now->failed, [](const hooks::Delivery& d) { return d.id.empty(); });
  MODELFS_RETURN_IF_ERROR(hooks::SaveState(s.reg(), name, *now));
  return Report(id, a, as_json);
}

int RunHooks(const HooksArgs& a) {
  if (a.action != "run" && a.action != "status" && a.action != "test" && a.action != "retry") {
    std::cerr << "modelfs: hooks: unknown action '" << EscapeText(a.action)
              << "'; expected run, status, test NAME or retry ID\n";
    return kExitUsage;
  }
  bool needs_arg = a.action == "test" || a.action == "retry";
  if (needs_arg != !a.arg.empty()) {
    std::cerr << "modelfs: hooks " << a.action
              << (needs_arg ? (a.action == "test" ? " needs the hook's NAME" : " needs a delivery ID")
                            : " takes no argument")
              << "\n";
    return kExitUsage;
  }
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(Operation::kHooks, "", "hooks " + a.action));
    if (a.action == "run") return RunDeliverer(s);
    if (a.action == "status") return Status_(s, a.json);
    if (a.action == "test") return Test(s, a.arg, a.json);
    return Retry(s, a.arg, a.json);
  });
}

}  // namespace

Command AddHooks(CLI::App& app) {
  auto a = std::make_shared<HooksArgs>();
  CLI::App* c = app.add_subcommand(
      "hooks", "Hooks: run the deliverer (where no mount does), status, test NAME, retry ID");
  AddRoot(c, a->root);
  c->add_option("ACTION", a->action, "run | status | test | retry")->required();
  c->add_option("ARG", a->arg, "test: the hook's NAME; retry: a delivery ID from `hooks status`");
  AddJson(c, a->json);
  Example(c, {"hooks status", "hooks test deploy", "hooks retry deploy-42", "hooks /srv/registry run"});
  return {c, [a] { return RunHooks(*a); }};
}

}  // namespace modelfs::cli
