#pragma once
// Schema-checked access to a case file. Every read names its key; required keys that are absent,
// values of the wrong type or out of range, and (at the end) keys nobody read all become one
// ConfigError line naming the file, line and column and what was expected.
//
//   auto doc = CaseFile::load("case.yaml", {"solver.rtol=1e-8"});
//   Node solver = doc.root().child("solver");
//   double rtol = solver.number("rtol", 1e-10, Bounds::positive());
//   doc.reject_unknown_keys();   // "case.yaml:7:3: unknown key 'rtoll' (did you mean 'rtol'?)"

#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "karman/core/error.hpp"
#include "karman/core/expression.hpp"

namespace karman::config {

struct Bounds {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool open_min = false;  // min itself excluded
  static Bounds positive() { return {0.0, std::numeric_limits<double>::infinity(), true}; }
  static Bounds at_least(double m) { return {m, std::numeric_limits<double>::infinity(), false}; }
  static Bounds between(double lo, double hi) { return {lo, hi, false}; }
  bool contains(double v) const { return (open_min ? v > min : v >= min) && v <= max; }
  std::string describe() const;
};

class Document;

// One key as the schema read it: what `karman validate --keys` prints. Paths are normalised:
// list items as `[]` (`training.stages[].steps`), user-named items as `<name>`
// (`data.sets.<name>.samples`).
struct KeyRead {
  std::string path;
  std::string type;           // "number", "choice", "list of 2 expressions", ...
  std::string default_value;  // "required", "none" (optional, no default), or the value
  std::string range;          // bounds or choices; empty when any value of the type goes
  bool operator==(const KeyRead& o) const {
    return path == o.path && type == o.type && default_value == o.default_value && range == o.range;
  }
};

class Node {
 public:
  const std::string& path() const { return m_path; }
  std::string key_path(std::string_view key) const;  // "solver.rtol"
  Place place() const;                               // of this node
  Place place(std::string_view key) const;           // of key's value (this node's if absent)

  bool has(std::string_view key) const;
  bool is_map(std::string_view key) const;
  bool is_sequence(std::string_view key) const;

  Node child(std::string_view key) const;  // a required mapping
  // An optional mapping: absent gives an empty mapping whose reads all take their defaults.
  Node child_or_empty(std::string_view key) const;

  std::string str(std::string_view key) const;
  std::string str(std::string_view key, const std::string& fallback) const;
  // One of `options`; `fallback` empty means the key is required.
  std::string choice(std::string_view key, const std::vector<std::string>& options,
                     const std::string& fallback = {}) const;
  double number(std::string_view key, Bounds bounds = {}) const;
  double number(std::string_view key, double fallback, Bounds bounds = {}) const;
  long integer(std::string_view key, long fallback, long min = std::numeric_limits<long>::min(),
               long max = std::numeric_limits<long>::max()) const;
  long required_integer(std::string_view key, long min = std::numeric_limits<long>::min(),
                        long max = std::numeric_limits<long>::max()) const;
  bool flag(std::string_view key, bool fallback) const;
  // An expression in x, y, z, t (parsed now: a syntax error is reported at this key).
  Expression expression(std::string_view key) const;
  Expression expression(std::string_view key, const std::string& fallback) const;
  // A required list of exactly `count` expressions (e.g. the components of a vector field).
  std::vector<Expression> expressions(std::string_view key, std::size_t count) const;
  // A number or a list of `count` numbers; a single number is repeated `count` times.
  std::vector<double> numbers(std::string_view key, std::size_t count, Bounds bounds = {}) const;
  std::vector<long> integers(std::string_view key, std::size_t count, long min, long max) const;
  // The keys of this mapping in file order (named items chosen by the user, such as dataset
  // sets); reading them does not count as reading their values.
  std::vector<std::string> keys() const;
  // A required list of mappings (e.g. training stages); item i has the path "key[i]".
  std::vector<Node> mappings(std::string_view key) const;
  // A list of numbers of any length (at least `min_count`).
  std::vector<double> number_list(std::string_view key, std::size_t min_count,
                                  Bounds bounds = {}) const;
  // A list of lists of `width` numbers, at least `min_rows` of them (polygon vertices:
  // [[0, 0], [1, 0], [0, 1]]).
  std::vector<std::vector<double>> number_rows(std::string_view key, std::size_t width,
                                               std::size_t min_rows, Bounds bounds = {}) const;
  // A required string or list of strings (boundary part names: `outer` or [left, right]).
  std::vector<std::string> strings(std::string_view key) const;
  // A mapping of scalar values read as text, passed on without a schema (PETSc options).
  std::vector<std::pair<std::string, std::string>> opaque_map(std::string_view key) const;

  [[noreturn]] void fail(std::string_view key, const std::string& expected) const;

 private:
  friend class Document;
  friend class CaseFile;
  struct Yaml;
  Node(std::shared_ptr<Document> doc, std::string path, std::shared_ptr<Yaml> yaml);
  std::shared_ptr<Yaml> value_of(std::string_view key) const;  // records the lookup
  double scalar_number(std::string_view key, const Yaml& value) const;
  // Records this read for the key listing; reads nested inside another read of the same key
  // (number with a default calls number without) are not recorded twice.
  class Recording;
  void probe(std::string_view key) const;

  std::shared_ptr<Document> m_doc;
  std::string m_path;
  std::shared_ptr<Yaml> m_yaml;
};

// A case file after `--set` overrides, kept for the lifetime of the reads.
class CaseFile {
 public:
  // `overrides` are "a.b=value" strings from the command line; value is parsed as YAML.
  static CaseFile load(const std::string& file, const std::vector<std::string>& overrides = {});
  Node root() const;
  const std::string& file() const;
  // After the schema has read everything: any key it never looked at is an error.
  void reject_unknown_keys() const;
  // The case as resolved (overrides applied), stored in every output for provenance.
  std::string resolved_yaml() const;
  // Every key the schema read so far (absent keys too: their defaults), in the order first read.
  const std::vector<KeyRead>& key_reads() const;

 private:
  std::shared_ptr<Document> m_doc;
};

// Closest candidate to `word` by edit distance, or "" if none is close enough to suggest.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace karman::config
