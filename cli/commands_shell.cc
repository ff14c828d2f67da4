// Shell integration: `version`, `completion bash|zsh|fish` and the hidden
// `__complete` the completion scripts call back into. What is completed is
// read from the app itself at run time: subcommands, their options, and
// for each positional argument what its name says it is (MODEL, REF,
// ALIAS, a path: see KindOf), with model names, aliases and versions from
// the registry the command line would use, filtered by what the caller may
// read. So a subcommand added later is completed without a change here.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/render.h"
#include "cli/session.h"
#include "index/names.h"

namespace modelfs::cli {
namespace {

// ---------------------------------------------------------------- what to offer

enum class Kind { kNone, kModel, kRef, kAlias, kFiles, kDirs, kSubcommand };

// What an argument's value is, from its name (a positional's, or an
// option's long name and description): the one convention the
// completion relies on.
Kind KindOf(const std::string& name, const std::string& description) {
  auto has = [](const std::string& s, const char* w) { return s.find(w) != std::string::npos; };
  if (name == "root" || has(name, "ROOT")) return Kind::kDirs;
  if (has(name, "REF") || has(name, "@") || has(description, "MODEL@")) return Kind::kRef;
  if (has(name, "ALIAS") || name == "alias") return Kind::kAlias;
  if (has(name, "MODEL") || name == "model") return Kind::kModel;
  if (has(name, "PATH") || has(name, "FILE") || has(name, "DEST") || has(name, "DIR"))
    return Kind::kFiles;
  if (has(name, "MOUNTPOINT")) return Kind::kDirs;
  return Kind::kNone;
}

void Offer(std::vector<std::string>& out, const std::string& cand, const std::string& cur) {
  if (cand.rfind(cur, 0) == 0) out.push_back(cand);
}

// The registry the words name (-R, or `lead`, the ROOT taken from the
// first argument) or else the default one.
std::string RootOfWords(const std::vector<std::string>& args, const std::string& lead) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "-R" || args[i] == "--root") return args[i + 1];
  for (const auto& a : args)
    if (a.rfind("--root=", 0) == 0) return a.substr(7);
  return lead.empty() ? DefaultRootQuietly() : lead;
}

// Names from the registry for `kind`, starting with `cur`. `model` is the
// model an alias belongs to.
std::vector<std::string> RegistryNames(const std::string& root, Kind kind, const std::string& cur,
                                       const std::string& model) {
  std::vector<std::string> out;
  if (root.empty()) return out;
  std::string real = MountSource(root);
  auto s = Session::Open(real.empty() ? root : real);
  if (!s.ok()) return out;
  auto snap = s->reg().Read();
  if (!snap.ok()) return out;
  auto aliases = [&](const std::string& m, const std::string& prefix) {
    auto rec = snap->GetModel(m);
    if (!rec.ok() || !s->MayRead(m)) return;
    if (!prefix.empty()) Offer(out, prefix + "latest", cur);
    (void)snap->ForEachAlias(rec->id, "", [&](const Alias& a) {
      Offer(out, prefix + a.name, cur);
      return true;
    });
    if (prefix.empty()) return;
    (void)snap->ForEachVersion(rec->id, 0, [&](const Version& v) {
      Offer(out, prefix + std::to_string(v.number), cur);
      return true;
    });
  };
  if (kind == Kind::kAlias) {
    aliases(model, "");
    return out;
  }
  auto at = cur.find('@');
  if (kind == Kind::kRef && at != std::string::npos) {
    aliases(cur.substr(0, at), cur.substr(0, at + 1));
    return out;
  }
  (void)snap->ForEachModel("", [&](const Model& m) {
    if (!s->MayRead(m.name)) return true;
    Offer(out, m.name, cur);
    // MODEL@ too, so that the shell stops at the common part and '@' then
    // lists aliases and versions.
    if (kind == Kind::kRef) Offer(out, m.name + "@", cur);
    return true;
  });
  return out;
}

std::vector<std::string> OptionNames(const CLI::App* scope, const std::string& cur) {
  std::vector<std::string> out;
  for (const CLI::App* a = scope; a; a = a->get_parent()) {
    for (const CLI::Option* o : a->get_options()) {
      if (o->get_positional()) continue;
      for (const auto& l : o->get_lnames()) Offer(out, "--" + l, cur);
      for (const auto& s : o->get_snames()) Offer(out, "-" + s, cur);
    }
  }
  return out;
}

std::vector<std::string> SubcommandsOf(const CLI::App* app, const std::string& cur) {
  std::vector<std::string> out;
  for (const CLI::App* c : app->get_subcommands({}))
    if (!c->get_group().empty()) Offer(out, c->get_name(), cur);
  return out;
}

// The model named by the command's first own argument (MODEL or MODEL@REF).
std::string FirstModel(const std::vector<std::string>& args, const std::vector<size_t>& own) {
  if (own.empty()) return "";
  const std::string& w = args[own[0]];
  return w.substr(0, w.find('@'));
}

// ---------------------------------------------------------------- scripts

const char* const kBash = R"(# bash completion for modelfs: source <(modelfs completion bash)
# Candidates come from `modelfs __complete CWORD WORDS...`: one per line,
# or :files / :dirs for the shell's own file name completion.
_modelfs() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[0]} out
    [[ $cmd == "~/"* ]] && cmd=$HOME/${cmd#"~/"}
    out=$("$cmd" __complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null) || return 0
    COMPREPLY=()
    case $out in
        :files) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        :dirs) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
        ?*) mapfile -t COMPREPLY <<<"$out"
            # MODEL@ goes on to an alias or a version: no space after it.
            local c
            for c in "${COMPREPLY[@]}"; do
                if [[ $c == *@ ]]; then compopt -o nospace 2>/dev/null; break; fi
            done ;;
    esac
    return 0
}
complete -F _modelfs modelfs
)";

const char* const kZsh = R"(#compdef modelfs
# zsh completion for modelfs: source <(modelfs completion zsh), or save as
# _modelfs in a directory of $fpath. Candidates come from
# `modelfs __complete CWORD WORDS...` (one per line, or :files / :dirs).
_modelfs() {
    local out
    out=$(${words[1]} __complete $((CURRENT - 1)) "${words[@]}" 2>/dev/null) || return 1
    case $out in
        :files) _files ;;
        :dirs) _files -/ ;;
        ?*)
            local -a cands at
            cands=("${(@f)out}")
            at=(${(M)cands:#*@})
            cands=(${cands:#*@})
            (( ${#cands} )) && compadd -Q -- "${cands[@]}"
            (( ${#at} )) && compadd -Q -S '' -- "${at[@]}"
            ;;
    esac
}
if (( $+functions[compdef] )); then compdef _modelfs modelfs; fi
)";

const char* const kFish = R"(# fish completion for modelfs: modelfs completion fish | source
# Candidates come from `modelfs __complete CWORD WORDS...` (one per line,
# or :files / :dirs for file names).
function __modelfs_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l out ($words[1] __complete (math (count $words) - 1) $words 2>/dev/null)
    switch "$out"
        case :files
            __fish_complete_path (commandline -ct)
        case :dirs
            __fish_complete_directories (commandline -ct)
        case '*'
            printf '%s\n' $out
    end
end
complete -c modelfs -f -a '(__modelfs_complete)'
)";

struct CompletionArgs {
  std::string shell;
};

int RunCompletion(const CompletionArgs& a) {
  if (a.shell == "bash") std::cout << kBash;
  else if (a.shell == "zsh") std::cout << kZsh;
  else if (a.shell == "fish") std::cout << kFish;
  else return UsageError(Status::Invalid("completion: no script for shell '" + EscapeText(a.shell) +
                                         "'; choose bash, zsh or fish"));
  return kExitOk;
}

}  // namespace

void Example(CLI::App* c, std::initializer_list<const char*> lines) {
  std::string f = "Example" + std::string(lines.size() > 1 ? "s" : "") + ":";
  for (const char* l : lines) f += std::string("\n  modelfs ") + l;
  c->footer(f);
}

Command AddVersion(CLI::App& app) {
  CLI::App* c = app.add_subcommand("version", "Print the version of modelfs (as --version)");
  Example(c, {"version", "--version"});
  return {c, [] {
            std::cout << "modelfs " << kVersion << "\n";
            return kExitOk;
          }};
}

Command AddCompletion(CLI::App& app) {
  auto a = std::make_shared<CompletionArgs>();
  CLI::App* c = app.add_subcommand(
      "completion", "Print a script that completes commands, options, models, aliases and versions");
  c->add_option("SHELL", a->shell, "bash, zsh or fish")->required();
  Example(c, {"completion bash > /etc/bash_completion.d/modelfs   # or: source <(modelfs completion bash)",
              "completion zsh > \"${fpath[1]}/_modelfs\"",
              "completion fish > ~/.config/fish/completions/modelfs.fish"});
  return {c, [a] { return RunCompletion(*a); }};
}

int Complete(CLI::App& app, const std::vector<std::string>& args) {
  // args: __complete CWORD WORD0 WORD1 ...; WORD0 is the program.
  if (args.size() < 3) return kExitUsage;
  auto cword = ParseVersionNumber(args[1]);  // a positive whole number
  if (!cword.ok()) return kExitUsage;
  std::vector<std::string> words(args.begin() + 3, args.end());  // after the program
  size_t cur_i = *cword - 1;
  std::string cur = cur_i < words.size() ? words[cur_i] : "";
  if (cur_i < words.size()) words.resize(cur_i);

  CommandWords w = ReadWords(app, words);
  const CLI::App* scope = w.sub ? w.sub : &app;
  // The words as the command will read them, ROOT taken out by the rule of
  // root.h (counting the current word: `show reg <TAB>` names ROOT reg).
  std::vector<std::string> full = words;
  full.push_back(cur);
  std::vector<std::string> rest = full;
  std::string lead;
  if (!TakeLeadingRoot(app, rest, &lead).ok()) lead.clear();
  bool cur_is_root = !lead.empty() && !w.pending && ReadWords(app, full).positionals.size() == 1;
  std::vector<size_t> own = ReadWords(app, rest).positionals;  // the command's own arguments
  if (!w.pending && !own.empty()) own.pop_back();                 // less the current word
  std::string model = FirstModel(rest, own);

  std::vector<std::string> out;
  Kind kind = Kind::kNone;
  if (w.pending) {
    // An option's value: --root a directory, --parent a reference, --alias
    // an alias of the command's MODEL.
    kind = KindOf(w.pending->get_lnames().empty() ? "" : w.pending->get_lnames()[0],
                  w.pending->get_description());
  } else if (!w.after_dashdash && cur.size() > 0 && cur[0] == '-') {
    out = OptionNames(scope, cur);
  } else if (!w.sub || (!scope->get_subcommands({}).empty() && w.positionals.empty())) {
    out = SubcommandsOf(scope, cur);
  } else if (cur_is_root) {
    kind = Kind::kDirs;
  } else {
    // The command's own positional the current word fills, in their order.
    size_t k = own.size(), at = 0;
    for (const CLI::Option* o : w.sub->get_options()) {
      if (!o->get_positional()) continue;
      size_t n = static_cast<size_t>(std::max(o->get_items_expected_max(), 0));
      if (k < at + n) {
        kind = KindOf(o->get_name(), o->get_description());
        break;
      }
      at += n;
    }
  }
  if (kind == Kind::kFiles) {
    std::cout << ":files\n";
    return kExitOk;
  }
  if (kind == Kind::kDirs) {
    std::cout << ":dirs\n";
    return kExitOk;
  }
  if (kind == Kind::kModel || kind == Kind::kRef || kind == Kind::kAlias)
    out = RegistryNames(RootOfWords(words, lead), kind, cur, model);
  for (const auto& c : out) std::cout << c << "\n";
  return kExitOk;
}

}  // namespace modelfs::cli
