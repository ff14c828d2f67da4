// `modelfs policy set ROOT FILE` (SPEC §7): the registry's policy replaced,
// admin only by the policy in force. FILE is parsed by the same parser as
// every policy load before anything is touched; Registry::SetPolicy stores
// it (multi-host: through the index of record, so every host follows).
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/root.h"
#include "cli/session.h"

namespace modelfs::cli {
namespace {

struct PolicySetArgs {
  std::string root, file;
};

int RunPolicySet(const PolicySetArgs& a) {
  std::ifstream f(a.file, std::ios::binary);
  if (!f) return Fail(Status::FromErrno("cannot read " + a.file, errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return Fail(Status::IO("cannot read " + a.file));
  std::string text = ss.str();
  // The text that is checked is the text that is stored: read once.
  if (auto p = policy::Policy::Parse(text, a.file); !p.ok()) {
    std::cerr << EscapeText(p.status().message()) << "\n";  // FILE:LINE:COL: message
    return kExitFail;
  }
  return WithSession(a.root, [&](Session& s) -> Status {
    MODELFS_RETURN_IF_ERROR(s.Check(policy::Operation::kPolicySet, "", "policy"));
    MODELFS_RETURN_IF_ERROR(s.reg().SetPolicy(text, s.actor()));
    if (!Quiet())
      std::cout << "policy of " << s.reg().root() << " set from " << a.file
                << (s.reg().multi_host() ? " (every host follows)" : "") << "\n";
    return Status::Ok();
  });
}

}  // namespace

Command AddPolicySet(CLI::App& app) {
  auto a = std::make_shared<PolicySetArgs>();
  CLI::App* group = app.get_subcommand("policy");  // made by AddPolicyCheck
  CLI::App* c = group->add_subcommand(
      "set", "Validate FILE and make it the registry's policy (admin; every host follows)");
  AddRoot(c, a->root, RootPlace::kLeadingByCount);
  c->add_option("FILE", a->file, "The new policy.toml")->required();
  Example(c, {"policy set /srv/registry new-policy.toml"});
  return {c, [a] { return RunPolicySet(*a); }};
}

}  // namespace modelfs::cli
