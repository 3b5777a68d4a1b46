#include "key_listing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "key_docs.hpp"
#include "methods.hpp"

namespace karman::app {
namespace {

// One key of a kind merged over its cases: a default (or type, or range) that differs between
// cases (`grid.dim`: 1 for burgers, 2 for poisson) lists every value seen, in the order seen.
struct MergedKey {
  std::string path;
  std::vector<std::string> types, defaults, ranges;
  std::string type() const { return join_values(merge_counts(types)); }
  std::string default_value() const { return join_values(defaults); }
  std::string range() const { return join_values(ranges); }
  static std::string join_values(const std::vector<std::string>& values) {
    return fmt::format("{}", fmt::join(values, " or "));
  }
  // "number or list of 1 numbers", "... of 2 numbers" (the grid's dim) -> "... of 1/2 numbers".
  static std::vector<std::string> merge_counts(const std::vector<std::string>& types) {
    std::vector<std::string> out;
    std::vector<std::vector<long>> counts;
    for (const auto& t : types) {
      const std::size_t digit = t.find_first_of("0123456789");
      std::string shape = t;
      long count = -1;
      if (digit != std::string::npos) {
        const std::size_t end = t.find_first_not_of("0123456789", digit);
        count = std::stol(t.substr(digit, end - digit));
        shape = t.substr(0, digit) + "#" + (end == std::string::npos ? "" : t.substr(end));
      }
      auto it = std::find(out.begin(), out.end(), shape);
      if (it == out.end()) {
        out.push_back(shape);
        counts.emplace_back();
        it = out.end() - 1;
      }
      if (count >= 0) counts[it - out.begin()].push_back(count);
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
      std::sort(counts[i].begin(), counts[i].end());
      counts[i].erase(std::unique(counts[i].begin(), counts[i].end()), counts[i].end());
      const std::size_t hash = out[i].find('#');
      if (hash != std::string::npos)
        out[i].replace(hash, 1, fmt::format("{}", fmt::join(counts[i], "/")));
    }
    return out;
  }
};

struct KindKeys {
  std::string kind;
  std::vector<std::string> cases;
  std::vector<MergedKey> keys;
};

void add_unique(std::vector<std::string>& values, const std::string& value) {
  if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
}

std::string root_of(const std::string& path) { return path.substr(0, path.find_first_of(".[")); }

// Keys grouped by their top-level section (in the order sections were first read), then in the
// order first read; a presence check (type "any") only where no case read the key's type.
std::vector<MergedKey> merge_reads(const std::vector<config::KeyRead>& reads) {
  std::vector<std::string> typed, roots;
  for (const auto& r : reads) {
    if (r.type != "any") add_unique(typed, r.path);
    add_unique(roots, root_of(r.path));
  }
  std::vector<MergedKey> out;
  for (const auto& root : roots)
    for (const auto& r : reads) {
      if (root_of(r.path) != root) continue;
      const bool is_typed = std::find(typed.begin(), typed.end(), r.path) != typed.end();
      if (r.type == "any" && is_typed) continue;
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const MergedKey& k) { return k.path == r.path; });
      if (it == out.end()) it = out.insert(out.end(), MergedKey{r.path, {}, {}, {}});
      add_unique(it->types, r.type);
      add_unique(it->defaults, r.default_value);
      if (!r.range.empty()) add_unique(it->ranges, r.range);
    }
  return out;
}

// Per registered kind (in the registry's order), the cases of that kind and their merged keys.
std::vector<KindKeys> keys_by_kind(const std::vector<CaseKeys>& cases) {
  std::vector<KindKeys> out;
  std::vector<std::vector<config::KeyRead>> reads;
  for (const auto& kind : method_kinds()) out.push_back({kind, {}, {}}), reads.emplace_back();
  for (const auto& c : cases) {
    const std::size_t k =
        std::find_if(out.begin(), out.end(), [&](const KindKeys& g) { return g.kind == c.kind; }) -
        out.begin();
    out[k].cases.push_back(c.file);
    reads[k].insert(reads[k].end(), c.reads.begin(), c.reads.end());
  }
  for (std::size_t k = 0; k < out.size(); ++k) out[k].keys = merge_reads(reads[k]);
  out.erase(
      std::remove_if(out.begin(), out.end(), [](const KindKeys& k) { return k.cases.empty(); }),
      out.end());
  return out;
}

// A markdown cell: `|` would end it.
std::string cell(const std::string& text) {
  std::string out;
  for (char ch : text) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
  return out;
}

std::string code_cell(const std::string& text) {
  return text.empty() ? std::string() : "`" + cell(text) + "`";
}

void print_keys_markdown(const std::vector<KindKeys>& kinds) {
  for (const auto& k : kinds) {
    fmt::print("### Keys of `kind: {}`\n\n", k.kind);
    fmt::print("| key | type | default | range | meaning |\n| --- | --- | --- | --- | --- |\n");
    for (const auto& r : k.keys) {
      std::vector<std::string> defaults;
      for (const auto& d : r.defaults)
        defaults.push_back(d == "required" || d == "optional" || d == "none" ? d : code_cell(d));
      fmt::print("| `{}` | {} | {} | {} | {} |\n", cell(r.path), cell(r.type()),
                 fmt::join(defaults, " or "), cell(r.range()), cell(key_meaning(k.kind, r.path)));
    }
    fmt::print("\n");
  }
}

void print_keys_text(const std::vector<KindKeys>& kinds) {
  for (const auto& k : kinds) {
    fmt::print("kind {} ({} case(s): {})\n", k.kind, k.cases.size(), fmt::join(k.cases, ", "));
    std::size_t width = 0;
    for (const auto& r : k.keys) width = std::max(width, r.path.size());
    for (const auto& r : k.keys)
      fmt::print("  {:<{}}  {}; default {}{}{}\n", r.path, width, r.type(), r.default_value(),
                 r.range().empty() ? "" : "; " + r.range(),
                 key_meaning(k.kind, r.path).empty() ? "" : ": " + key_meaning(k.kind, r.path));
  }
}

void print_keys_json(const std::vector<KindKeys>& kinds) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& k : kinds) {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& r : k.keys)
      keys.push_back({{"key", r.path},
                      {"type", r.type()},
                      {"default", r.default_value()},
                      {"range", r.range()},
                      {"meaning", key_meaning(k.kind, r.path)}});
    out[k.kind] = {{"cases", k.cases}, {"keys", keys}};
  }
  fmt::print("{}\n", out.dump(2));
}

}  // namespace

void print_case_keys(const std::vector<CaseKeys>& cases, const std::string& format) {
  const std::vector<KindKeys> kinds = keys_by_kind(cases);
  if (format == "markdown")
    print_keys_markdown(kinds);
  else if (format == "json")
    print_keys_json(kinds);
  else
    print_keys_text(kinds);
}

}  // namespace karman::app
