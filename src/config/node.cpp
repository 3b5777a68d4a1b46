#include "karman/config/node.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "karman/core/expression.hpp"

namespace karman::config {

struct Node::Yaml {
  YAML::Node node{YAML::NodeType::Undefined};  // Undefined: key absent
};

class Document {
 public:
  std::string file;
  YAML::Node root;
  std::map<std::string, std::string> overrides;            // key path -> "--set a.b=v"
  std::map<std::string, std::set<std::string>> looked_up;  // map path -> keys the schema asked for
  std::set<std::string> opaque;                            // paths read without a schema
  std::set<std::string> named_maps;  // paths whose keys the user names (listed with keys())
  std::set<std::string> probed;      // paths asked about with has() before any typed read
  std::vector<KeyRead> reads;        // the key listing, in the order first read
  int read_depth = 0;                // > 0 inside a typed read (its nested reads not recorded)

  // `training.stages[2].steps` -> `training.stages[].steps`, `data.sets.train.n` ->
  // `data.sets.<name>.n`: one entry per key of the schema, whatever the file's items.
  std::string normalise(std::string path) const {
    std::vector<std::string> named(named_maps.begin(), named_maps.end());
    std::sort(named.begin(), named.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    for (const auto& p : named) {
      if (p.empty() || path.rfind(p + ".", 0) != 0) continue;
      const std::string rest = path.substr(p.size() + 1);
      const std::size_t end = rest.find_first_of(".[");
      path = p + ".<name>" + (end == std::string::npos ? std::string() : rest.substr(end));
    }
    std::string out;
    for (std::size_t i = 0; i < path.size(); ++i) {
      out += path[i];
      if (path[i] == '[')
        while (i + 1 < path.size() && path[i + 1] != ']') ++i;
    }
    return out;
  }

  // A presence check (type "any") gives way to a typed read of the same key.
  void record(KeyRead read) {
    for (auto& r : reads) {
      if (r.path != read.path) continue;
      if (read.type == "any" || r == read) return;
      if (r.type == "any") {
        r = std::move(read);
        return;
      }
    }
    reads.push_back(std::move(read));
  }

  Place place_of(const std::string& path, const YAML::Node& node) const {
    // An override, or anything beneath one, is reported as coming from the command line.
    for (const auto& [p, text] : overrides)
      if (path == p || path.rfind(p + ".", 0) == 0) return Place{text, 0, 0};
    if (node.IsDefined() && node.Mark().line >= 0)
      return Place{file, node.Mark().line + 1, node.Mark().column + 1};
    return Place{file, 0, 0};
  }
};

namespace {

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    default:
      return "nothing";
  }
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string list_options(const std::vector<std::string>& options) {
  std::string out;
  for (std::size_t i = 0; i < options.size(); ++i) out += (i ? ", " : "") + options[i];
  return out;
}

std::string format_number(double x) {
  if (std::isnan(x)) return "none";
  std::ostringstream s;
  s.precision(12);
  s << x;
  return s.str();
}

std::string integer_range(long min, long max) {
  const bool has_min = min != std::numeric_limits<long>::min();
  const bool has_max = max != std::numeric_limits<long>::max();
  if (has_min && has_max) return "between " + std::to_string(min) + " and " + std::to_string(max);
  if (has_min) return "at least " + std::to_string(min);
  if (has_max) return "at most " + std::to_string(max);
  return {};
}

// An empty fallback: the caller derives the default (the key listing says "optional").
std::string optional_text(const std::string& fallback) {
  return fallback.empty() ? "optional" : fallback;
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  return best;
}

std::string Bounds::describe() const {
  std::ostringstream s;
  s.precision(12);
  bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  if (has_min && has_max)
    s << "between " << min << " and " << max;
  else if (has_min && open_min && min == 0.0)
    s << "positive";
  else if (has_min)
    s << (open_min ? "greater than " : "at least ") << min;
  else if (has_max)
    s << "at most " << max;
  return s.str();
}

// ---------------------------------------------------------------------------------------- Node

class Node::Recording {
 public:
  Recording(const Node& node, std::string_view key, std::string type, std::string default_value,
            std::string range = {})
      : m_doc(*node.m_doc) {
    if (m_doc.read_depth++ > 0) return;
    const std::string path = node.key_path(key);
    // Asked about with has() first: the caller reads the key only when present and supplies
    // the default itself (`has("x") ? number("x") : derived`).
    if (m_doc.probed.count(path)) default_value = "optional";
    m_doc.record(KeyRead{m_doc.normalise(path), std::move(type), std::move(default_value),
                         std::move(range)});
  }
  ~Recording() { --m_doc.read_depth; }
  Recording(const Recording&) = delete;
  Recording& operator=(const Recording&) = delete;

 private:
  Document& m_doc;
};

Node::Node(std::shared_ptr<Document> doc, std::string path, std::shared_ptr<Yaml> yaml)
    : m_doc(std::move(doc)), m_path(std::move(path)), m_yaml(std::move(yaml)) {}

std::string Node::key_path(std::string_view key) const { return join(m_path, key); }

Place Node::place() const { return m_doc->place_of(m_path, m_yaml->node); }

Place Node::place(std::string_view key) const {
  const YAML::Node& map = m_yaml->node;  // const: a lookup must never insert the key
  YAML::Node value = map.IsMap() ? map[std::string(key)] : YAML::Node(YAML::NodeType::Undefined);
  if (value.IsDefined()) return m_doc->place_of(key_path(key), value);
  return place();
}

std::shared_ptr<Node::Yaml> Node::value_of(std::string_view key) const {
  m_doc->looked_up[m_path].insert(std::string(key));
  auto out = std::make_shared<Yaml>();
  if (m_yaml->node.IsMap()) {
    const YAML::Node& map = m_yaml->node;
    YAML::Node v = map[std::string(key)];
    if (v.IsDefined() && !v.IsNull()) out->node = v;
  }
  return out;
}

void Node::fail(std::string_view key, const std::string& expected) const {
  throw ConfigError(place(key), key_path(key) + ": " + expected);
}

// A presence check outside a typed read: the key is optional, its default the caller's.
void Node::probe(std::string_view key) const {
  if (m_doc->read_depth > 0) return;
  m_doc->probed.insert(key_path(key));
  m_doc->record(KeyRead{m_doc->normalise(key_path(key)), "any", "optional", {}});
}

bool Node::has(std::string_view key) const {
  probe(key);
  return value_of(key)->node.IsDefined();
}
bool Node::is_map(std::string_view key) const {
  probe(key);
  return value_of(key)->node.IsMap();
}
bool Node::is_sequence(std::string_view key) const {
  probe(key);
  return value_of(key)->node.IsSequence();
}

Node Node::child(std::string_view key) const {
  Recording r(*this, key, "mapping", "required");
  auto v = value_of(key);
  if (!v->node.IsDefined()) fail(key, "required mapping is missing");
  if (!v->node.IsMap()) fail(key, "expected a mapping, got " + describe_node(v->node));
  return Node(m_doc, key_path(key), v);
}

Node Node::child_or_empty(std::string_view key) const {
  Recording r(*this, key, "mapping", "none");
  auto v = value_of(key);
  if (v->node.IsDefined() && !v->node.IsMap())
    fail(key, "expected a mapping, got " + describe_node(v->node));
  return Node(m_doc, key_path(key), v);
}

std::string Node::str(std::string_view key) const {
  Recording r(*this, key, "string", "required");
  auto v = value_of(key);
  if (!v->node.IsDefined()) fail(key, "required key is missing (expected a string)");
  if (!v->node.IsScalar()) fail(key, "expected a string, got " + describe_node(v->node));
  return v->node.Scalar();
}

std::string Node::str(std::string_view key, const std::string& fallback) const {
  Recording r(*this, key, "string", optional_text(fallback));
  return has(key) ? str(key) : fallback;
}

std::string Node::choice(std::string_view key, const std::vector<std::string>& options,
                         const std::string& fallback) const {
  Recording r(*this, key, "choice", fallback.empty() ? "required" : fallback,
              list_options(options));
  if (!has(key) && !fallback.empty()) return fallback;
  auto v = value_of(key);
  if (!v->node.IsDefined())
    fail(key, "required key is missing (expected one of " + list_options(options) + ")");
  std::string value = v->node.IsScalar() ? v->node.Scalar() : std::string();
  if (std::find(options.begin(), options.end(), value) != options.end()) return value;
  std::string message =
      "expected one of " + list_options(options) + ", got " + describe_node(v->node);
  std::string guess = closest_match(value, options);
  if (!guess.empty()) message += " (did you mean '" + guess + "'?)";
  fail(key, message);
}

double Node::scalar_number(std::string_view key, const Yaml& value) const {
  if (!value.node.IsScalar()) fail(key, "expected a number, got " + describe_node(value.node));
  const std::string& text = value.node.Scalar();
  double out;
  if (YAML::convert<double>::decode(value.node, out)) return out;
  // Not a plain literal: accept a constant expression such as `0.01/pi`.
  try {
    return evaluate_constant(text, place(key));
  } catch (const ConfigError&) {
    fail(key, "expected a number or a constant expression, got '" + text + "'");
  }
}

double Node::number(std::string_view key, Bounds bounds) const {
  Recording r(*this, key, "number", "required", bounds.describe());
  auto v = value_of(key);
  if (!v->node.IsDefined()) fail(key, "required key is missing (expected a number)");
  double out = scalar_number(key, *v);
  if (!std::isfinite(out) || !bounds.contains(out)) {
    std::ostringstream s;
    s.precision(12);
    s << "expected a number " << bounds.describe() << ", got " << out;
    fail(key, s.str());
  }
  return out;
}

double Node::number(std::string_view key, double fallback, Bounds bounds) const {
  Recording r(*this, key, "number", format_number(fallback), bounds.describe());
  return has(key) ? number(key, bounds) : fallback;
}

long Node::required_integer(std::string_view key, long min, long max) const {
  Recording r(*this, key, "integer", "required", integer_range(min, max));
  auto v = value_of(key);
  if (!v->node.IsDefined()) fail(key, "required key is missing (expected an integer)");
  long out;
  if (!v->node.IsScalar() || !YAML::convert<long>::decode(v->node, out))
    fail(key, "expected an integer, got " + describe_node(v->node));
  if (out < min || out > max) {
    std::string range = max == std::numeric_limits<long>::max()
                            ? "at least " + std::to_string(min)
                            : "between " + std::to_string(min) + " and " + std::to_string(max);
    fail(key, "expected an integer " + range + ", got " + std::to_string(out));
  }
  return out;
}

long Node::integer(std::string_view key, long fallback, long min, long max) const {
  Recording r(*this, key, "integer", std::to_string(fallback), integer_range(min, max));
  return has(key) ? required_integer(key, min, max) : fallback;
}

bool Node::flag(std::string_view key, bool fallback) const {
  Recording r(*this, key, "bool", fallback ? "true" : "false");
  auto v = value_of(key);
  if (!v->node.IsDefined()) return fallback;
  bool out;
  if (!v->node.IsScalar() || !YAML::convert<bool>::decode(v->node, out))
    fail(key, "expected true or false, got " + describe_node(v->node));
  return out;
}

Expression Node::expression(std::string_view key) const {
  Recording r(*this, key, "expression", "required");
  const std::string text = str(key);
  try {
    return Expression(text, Place{});
  } catch (const ConfigError& e) {
    fail(key, e.what());
  }
}

Expression Node::expression(std::string_view key, const std::string& fallback) const {
  Recording r(*this, key, "expression", optional_text(fallback));
  return has(key) ? expression(key) : Expression(fallback, Place{});
}

std::vector<Expression> Node::expressions(std::string_view key, std::size_t count) const {
  Recording r(*this, key, "list of " + std::to_string(count) + " expressions", "required");
  auto v = value_of(key);
  const std::string expected = "a list of " + std::to_string(count) + " expressions";
  if (!v->node.IsDefined()) fail(key, "required key is missing (expected " + expected + ")");
  if (!v->node.IsSequence() || v->node.size() != count)
    fail(key, "expected " + expected + ", got " +
                  (v->node.IsSequence() ? "a list of " + std::to_string(v->node.size())
                                        : describe_node(v->node)));
  std::vector<Expression> out;
  for (std::size_t i = 0; i < count; ++i) {
    const YAML::Node item = v->node[i];
    if (!item.IsScalar())
      fail(key,
           "entry " + std::to_string(i) + ": expected an expression, got " + describe_node(item));
    try {
      out.emplace_back(item.Scalar(), Place{});
    } catch (const ConfigError& e) {
      fail(key, "entry " + std::to_string(i) + ": " + e.what());
    }
  }
  return out;
}

std::vector<double> Node::numbers(std::string_view key, std::size_t count, Bounds bounds) const {
  Recording r(*this, key, "number or list of " + std::to_string(count) + " numbers", "required",
              bounds.describe());
  auto v = value_of(key);
  if (!v->node.IsDefined())
    fail(key,
         "required key is missing (expected a number or a list of " + std::to_string(count) + ")");
  if (v->node.IsScalar()) return std::vector<double>(count, number(key, bounds));
  if (!v->node.IsSequence() || v->node.size() != count)
    fail(key, "expected a number or a list of " + std::to_string(count) + " numbers, got " +
                  (v->node.IsSequence() ? "a list of " + std::to_string(v->node.size())
                                        : describe_node(v->node)));
  std::vector<double> out;
  for (std::size_t i = 0; i < count; ++i) {
    Yaml item{v->node[i]};
    double x = scalar_number(key, item);
    if (!std::isfinite(x) || !bounds.contains(x)) {
      std::ostringstream s;
      s.precision(12);
      s << "entry " << i << ": expected a number " << bounds.describe() << ", got " << x;
      fail(key, s.str());
    }
    out.push_back(x);
  }
  return out;
}

std::vector<long> Node::integers(std::string_view key, std::size_t count, long min,
                                 long max) const {
  Recording r(*this, key, "integer or list of " + std::to_string(count) + " integers", "required",
              integer_range(min, max));
  auto v = value_of(key);
  auto describe_range = [&] {
    return max == std::numeric_limits<long>::max()
               ? "at least " + std::to_string(min)
               : "between " + std::to_string(min) + " and " + std::to_string(max);
  };
  if (!v->node.IsDefined())
    fail(key, "required key is missing (expected an integer or a list of " + std::to_string(count) +
                  ")");
  std::vector<YAML::Node> items;
  if (v->node.IsScalar())
    items.assign(count, v->node);
  else if (v->node.IsSequence() && v->node.size() == count)
    for (std::size_t i = 0; i < count; ++i) items.push_back(v->node[i]);
  else
    fail(key, "expected an integer or a list of " + std::to_string(count) + " integers, got " +
                  (v->node.IsSequence() ? "a list of " + std::to_string(v->node.size())
                                        : describe_node(v->node)));
  std::vector<long> out;
  for (const auto& item : items) {
    long x;
    if (!item.IsScalar() || !YAML::convert<long>::decode(item, x))
      fail(key, "expected integers, got " + describe_node(item));
    if (x < min || x > max)
      fail(key, "expected integers " + describe_range() + ", got " + std::to_string(x));
    out.push_back(x);
  }
  return out;
}

std::vector<std::string> Node::keys() const {
  m_doc->named_maps.insert(m_path);
  std::vector<std::string> out;
  if (!m_yaml->node.IsMap()) return out;
  for (const auto& kv : m_yaml->node) out.push_back(kv.first.as<std::string>());
  return out;
}

std::vector<Node> Node::mappings(std::string_view key) const {
  Recording r(*this, key, "list of mappings", "required");
  auto v = value_of(key);
  if (!v->node.IsDefined()) fail(key, "required list of mappings is missing");
  if (!v->node.IsSequence() || v->node.size() == 0)
    fail(key, "expected a non-empty list of mappings, got " + describe_node(v->node));
  std::vector<Node> out;
  for (std::size_t i = 0; i < v->node.size(); ++i) {
    const std::string path = key_path(key) + "[" + std::to_string(i) + "]";
    auto item = std::make_shared<Yaml>(Yaml{v->node[i]});
    if (!item->node.IsMap())
      throw ConfigError(m_doc->place_of(path, item->node),
                        path + ": expected a mapping, got " + describe_node(item->node));
    m_doc->looked_up[path];  // a mapping the schema reads: its keys are checked
    out.push_back(Node(m_doc, path, item));
  }
  return out;
}

std::vector<double> Node::number_list(std::string_view key, std::size_t min_count,
                                      Bounds bounds) const {
  Recording r(*this, key, "list of numbers", "required",
              "at least " + std::to_string(min_count) + " entries" +
                  (bounds.describe().empty() ? "" : ", each " + bounds.describe()));
  auto v = value_of(key);
  if (!v->node.IsDefined()) fail(key, "required list of numbers is missing");
  if (!v->node.IsSequence() || v->node.size() < min_count)
    fail(key, "expected a list of at least " + std::to_string(min_count) + " numbers, got " +
                  describe_node(v->node));
  return numbers(key, v->node.size(), bounds);
}

std::vector<std::vector<double>> Node::number_rows(std::string_view key, std::size_t width,
                                                   std::size_t min_rows, Bounds bounds) const {
  Recording r(*this, key, "list of lists of " + std::to_string(width) + " numbers", "required",
              "at least " + std::to_string(min_rows) + " rows" +
                  (bounds.describe().empty() ? "" : ", each " + bounds.describe()));
  auto v = value_of(key);
  const std::string expected = "a list of at least " + std::to_string(min_rows) + " lists of " +
                               std::to_string(width) + " numbers";
  if (!v->node.IsDefined()) fail(key, "required key is missing (expected " + expected + ")");
  if (!v->node.IsSequence() || v->node.size() < min_rows)
    fail(key, "expected " + expected + ", got " +
                  (v->node.IsSequence() ? "a list of " + std::to_string(v->node.size())
                                        : describe_node(v->node)));
  std::vector<std::vector<double>> out;
  for (std::size_t i = 0; i < v->node.size(); ++i) {
    const YAML::Node row = v->node[i];
    if (!row.IsSequence() || row.size() != width)
      fail(key, "entry " + std::to_string(i) + ": expected a list of " + std::to_string(width) +
                    " numbers, got " + describe_node(row));
    out.emplace_back();
    for (std::size_t j = 0; j < width; ++j) {
      const double x = scalar_number(key, Yaml{row[j]});
      if (!std::isfinite(x) || !bounds.contains(x))
        fail(key, "entry " + std::to_string(i) + ": expected numbers " + bounds.describe());
      out.back().push_back(x);
    }
  }
  return out;
}

std::vector<std::string> Node::strings(std::string_view key) const {
  Recording r(*this, key, "string or list of strings", "required");
  auto v = value_of(key);
  if (!v->node.IsDefined()) fail(key, "required key is missing (expected a string or a list)");
  if (v->node.IsScalar()) return {v->node.Scalar()};
  if (!v->node.IsSequence() || v->node.size() == 0)
    fail(key, "expected a string or a non-empty list of strings, got " + describe_node(v->node));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v->node.size(); ++i) {
    if (!v->node[i].IsScalar())
      fail(key,
           "entry " + std::to_string(i) + ": expected a string, got " + describe_node(v->node[i]));
    out.push_back(v->node[i].Scalar());
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Node::opaque_map(std::string_view key) const {
  Recording r(*this, key, "mapping of options", "none");
  auto v = value_of(key);
  std::vector<std::pair<std::string, std::string>> out;
  if (!v->node.IsDefined()) return out;
  if (!v->node.IsMap())
    fail(key, "expected a mapping of option: value, got " + describe_node(v->node));
  m_doc->opaque.insert(key_path(key));
  for (const auto& kv : v->node) {
    if (!kv.second.IsScalar() && !kv.second.IsNull())
      throw ConfigError(m_doc->place_of(key_path(key), kv.second),
                        key_path(key) + "." + kv.first.Scalar() + ": expected a scalar value");
    out.emplace_back(kv.first.Scalar(), kv.second.IsNull() ? std::string() : kv.second.Scalar());
  }
  return out;
}

// ------------------------------------------------------------------------------------ CaseFile

namespace {

YAML::Node parse_file(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw ConfigError(Place{file, 0, 0}, "cannot open case file");
  try {
    YAML::Node root = YAML::Load(in);
    if (!root.IsMap())
      throw ConfigError(Place{file, 1, 1}, "expected a mapping of case keys at the top level");
    return root;
  } catch (const YAML::Exception& e) {
    throw ConfigError(Place{file, e.mark.line + 1, e.mark.column + 1}, "malformed YAML: " + e.msg);
  }
}

void apply_override(YAML::Node& root, const std::string& text, Document& doc) {
  const std::string where = "--set " + text;
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(Place{where, 0, 0}, "expected key.path=value");
  std::string path = text.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ConfigError(Place{where, 0, 0}, "value is not valid YAML: " + e.msg);
  }
  // Walk down the dotted path with fresh handles (yaml-cpp's operator= on a handle writes through).
  std::vector<std::string> keys;
  std::stringstream ss(path);
  for (std::string k; std::getline(ss, k, '.');) {
    if (k.empty()) throw ConfigError(Place{where, 0, 0}, "empty key in '" + path + "'");
    keys.push_back(k);
  }
  std::vector<YAML::Node> chain{root};
  for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node next = chain.back()[keys[i]];
    if (next.IsDefined() && !next.IsNull() && !next.IsMap())
      throw ConfigError(Place{where, 0, 0}, "'" + keys[i] + "' is not a mapping in the case file");
    if (!next.IsDefined() || next.IsNull()) {
      chain.back()[keys[i]] = YAML::Node(YAML::NodeType::Map);
      next = chain.back()[keys[i]];
    }
    chain.push_back(next);
  }
  chain.back()[keys.back()] = value;
  doc.overrides[path] = where;
}

void check_keys(const Document& doc, const YAML::Node& map, const std::string& path) {
  if (doc.opaque.count(path)) return;
  auto known = doc.looked_up.find(path);
  if (known == doc.looked_up.end()) return;  // never read as a mapping: its reader reported it
  std::vector<std::string> candidates(known->second.begin(), known->second.end());
  for (const auto& kv : map) {
    std::string key = kv.first.Scalar();
    std::string child = join(path, key);
    if (!known->second.count(key)) {
      std::string message = "unknown key '" + child + "'";
      std::string guess = closest_match(key, candidates);
      if (!guess.empty()) message += " (did you mean '" + join(path, guess) + "'?)";
      throw ConfigError(doc.place_of(child, kv.first), message);
    }
    if (kv.second.IsMap()) check_keys(doc, kv.second, child);
    if (kv.second.IsSequence())
      for (std::size_t i = 0; i < kv.second.size(); ++i)
        if (kv.second[i].IsMap())
          check_keys(doc, kv.second[i], child + "[" + std::to_string(i) + "]");
  }
}

}  // namespace

CaseFile CaseFile::load(const std::string& file, const std::vector<std::string>& overrides) {
  CaseFile out;
  out.m_doc = std::make_shared<Document>();
  out.m_doc->file = file;
  out.m_doc->root = parse_file(file);
  for (const auto& text : overrides) apply_override(out.m_doc->root, text, *out.m_doc);
  return out;
}

Node CaseFile::root() const {
  return Node(m_doc, "", std::make_shared<Node::Yaml>(Node::Yaml{m_doc->root}));
}

const std::string& CaseFile::file() const { return m_doc->file; }

void CaseFile::reject_unknown_keys() const { check_keys(*m_doc, m_doc->root, ""); }

const std::vector<KeyRead>& CaseFile::key_reads() const { return m_doc->reads; }

std::string CaseFile::resolved_yaml() const {
  YAML::Emitter out;
  out << m_doc->root;
  return out.c_str();
}

}  // namespace karman::config
