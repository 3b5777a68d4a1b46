// The key listing behind `karman validate --keys`: every read records its normalised path, type,
// default and range, absent keys included, and a presence check gives way to the typed read.
#include <gtest/gtest.h>

#include <fstream>

#include "karman/config/node.hpp"

using namespace karman::config;

namespace {

std::string write_case(const std::string& name, const std::string& text) {
  std::ofstream(name) << text;
  return name;
}

const KeyRead* find(const CaseFile& doc, const std::string& path) {
  for (const auto& r : doc.key_reads())
    if (r.path == path) return &r;
  return nullptr;
}

}  // namespace

TEST(ConfigKeys, ReadsRecordTypeDefaultAndRange) {
  auto doc = CaseFile::load(write_case("keys_basic.yaml", "solver: {rtol: 1e-8}\nkind: fit\n"));
  Node root = doc.root();
  Node solver = root.child_or_empty("solver");
  solver.number("rtol", 1e-10, Bounds::positive());
  solver.integer("max_it", 500, 1);  // absent: still listed, with its default
  root.choice("kind", {"reference", "fit"}, "reference");
  root.flag("verbose", false);

  const KeyRead* rtol = find(doc, "solver.rtol");
  ASSERT_NE(rtol, nullptr);
  EXPECT_EQ(rtol->type, "number");
  EXPECT_EQ(rtol->default_value, "1e-10");
  EXPECT_EQ(rtol->range, "positive");
  const KeyRead* max_it = find(doc, "solver.max_it");
  ASSERT_NE(max_it, nullptr);
  EXPECT_EQ(max_it->default_value, "500");
  EXPECT_EQ(max_it->range, "at least 1");
  const KeyRead* kind = find(doc, "kind");
  ASSERT_NE(kind, nullptr);
  EXPECT_EQ(kind->type, "choice");
  EXPECT_EQ(kind->range, "reference, fit");
  EXPECT_EQ(find(doc, "verbose")->default_value, "false");
  EXPECT_EQ(find(doc, "solver")->type, "mapping");
}

TEST(ConfigKeys, NestedReadsAreRecordedOnce) {
  // number(key, fallback) calls has() and number(key): one entry, with the fallback.
  auto doc = CaseFile::load(write_case("keys_nested.yaml", "a: 2\n"));
  doc.root().number("a", 1.0);
  doc.root().expression("e", "x");
  ASSERT_EQ(doc.key_reads().size(), 2u);
  EXPECT_EQ(doc.key_reads()[0].default_value, "1");
  EXPECT_EQ(doc.key_reads()[1].type, "expression");
  EXPECT_EQ(doc.key_reads()[1].default_value, "x");
}

TEST(ConfigKeys, ListItemsAndNamedItemsAreNormalised) {
  auto doc = CaseFile::load(write_case(
      "keys_items.yaml",
      "stages: [{steps: 1}, {steps: 2, lr: 0.1}]\nsets: {train: {n: 4}, test: {n: 2}}\n"));
  for (const Node& stage : doc.root().mappings("stages")) {
    stage.required_integer("steps", 0);
    stage.number("lr", 1e-3);
  }
  Node sets = doc.root().child("sets");
  for (const auto& name : sets.keys()) sets.child(name).integer("n", 1, 1);
  std::vector<std::string> paths;
  for (const auto& r : doc.key_reads()) paths.push_back(r.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"stages", "stages[].steps", "stages[].lr", "sets",
                                             "sets.<name>", "sets.<name>.n"}));
}

TEST(ConfigKeys, PresenceCheckGivesWayToTheTypedRead) {
  // `has("x") ? numbers("x") : derived`: optional, and typed where a case gives the key.
  auto doc = CaseFile::load(write_case("keys_probe.yaml", "lower: [0, 1]\n"));
  Node root = doc.root();
  if (root.has("lower")) root.numbers("lower", 2);
  root.has("upper");  // absent: the type stays unknown
  const KeyRead* lower = find(doc, "lower");
  ASSERT_NE(lower, nullptr);
  EXPECT_EQ(lower->type, "number or list of 2 numbers");
  EXPECT_EQ(lower->default_value, "optional");
  const KeyRead* upper = find(doc, "upper");
  ASSERT_NE(upper, nullptr);
  EXPECT_EQ(upper->type, "any");
  EXPECT_EQ(doc.key_reads().size(), 2u);
}
