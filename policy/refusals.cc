// The per-caller memory of refusals behind user.registry.why.
#include "policy/refusals.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "index/names.h"
#include "index/records.h"

namespace modelfs::policy {

Refusals::Refusals(Limits limits, Clock clock)
    : limits_(limits),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {
  if (limits_.per_caller < 1 || limits_.max_callers < 1 || limits_.max_text < 16) abort();
}

void Refusals::Expire(TimePoint now) const {
  for (auto it = callers_.begin(); it != callers_.end();) {
    std::erase_if(it->second.by_model,
                  [&](const auto& e) { return now - e.second.at > limits_.keep; });
    it = it->second.by_model.empty() ? callers_.erase(it) : std::next(it);
  }
}

void Refusals::Record(uint32_t uid, std::string_view model, std::string_view text) {
  std::string line = FormatTime(NowNs()) + " " + EscapeText(text);
  if (line.size() > limits_.max_text) {
    // Cut on a UTF-8 boundary, so the line stays valid text.
    size_t cut = limits_.max_text - 16;
    while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    line.resize(cut);
    line += " ... (cut)";
  }
  auto now = clock_();
  std::lock_guard<std::mutex> g(mu_);
  if (!callers_.count(uid) && callers_.size() >= limits_.max_callers) {
    Expire(now);
    if (callers_.size() >= limits_.max_callers) {
      auto oldest = std::min_element(callers_.begin(), callers_.end(), [](const auto& a, const auto& b) {
        return a.second.newest < b.second.newest;
      });
      callers_.erase(oldest);
    }
  }
  Caller& c = callers_[uid];
  c.newest = now;
  auto it = c.by_model.find(model);
  if (it == c.by_model.end()) {
    if (c.by_model.size() >= limits_.per_caller) {
      auto oldest = std::min_element(c.by_model.begin(), c.by_model.end(),
                                     [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
      c.by_model.erase(oldest);
    }
    c.by_model.emplace(std::string(model), Entry{now, std::move(line)});
  } else {
    it->second = Entry{now, std::move(line)};
  }
}

std::optional<std::string> Refusals::Latest(uint32_t uid, std::string_view model) const {
  auto now = clock_();
  std::lock_guard<std::mutex> g(mu_);
  auto c = callers_.find(uid);
  if (c == callers_.end()) return std::nullopt;
  auto it = c->second.by_model.find(model);
  if (it == c->second.by_model.end() || now - it->second.at > limits_.keep) return std::nullopt;
  return it->second.line;
}

std::string Refusals::All(uint32_t uid) const {
  auto now = clock_();
  std::lock_guard<std::mutex> g(mu_);
  auto c = callers_.find(uid);
  if (c == callers_.end()) return "";
  std::vector<const Entry*> kept;
  for (const auto& [model, e] : c->second.by_model)
    if (now - e.at <= limits_.keep) kept.push_back(&e);
  std::sort(kept.begin(), kept.end(), [](const Entry* a, const Entry* b) { return a->at > b->at; });
  std::string out;
  for (const Entry* e : kept) {
    if (!out.empty()) out += '\n';
    out += e->line;
  }
  return out;
}

}  // namespace modelfs::policy
