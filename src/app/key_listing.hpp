#pragma once
// `karman validate --keys`: the keys the schema read for some cases, merged per kind and printed
// as text, JSON or the markdown tables of cases/README.md's key reference.

#include <string>
#include <vector>

#include "karman/config/node.hpp"

namespace karman::app {

struct CaseKeys {
  std::string file, kind;
  std::vector<config::KeyRead> reads;  // CaseFile::key_reads() after validation
};

// Per kind, the union of its cases' keys: grouped by top-level section, in the order first read;
// a type, default or range that differs between cases lists every value seen (`2` or `1`).
// `format`: "text", "json" or "markdown".
void print_case_keys(const std::vector<CaseKeys>& cases, const std::string& format);

}  // namespace karman::app
