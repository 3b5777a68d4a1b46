#pragma once
// One line of meaning per case key, for `karman validate --keys` and the key reference of
// cases/README.md (generated from it: tools/case-keys). Types, defaults and ranges are not here:
// they come from the reads themselves (config::KeyRead).

#include <string>

namespace karman::app {

// The meaning of the normalised key `path` (`training.stages[].lr`) in a case of `kind`: the
// kind's own entry if it has one, else the entry shared by every kind; empty if neither.
std::string key_meaning(const std::string& kind, const std::string& path);

}  // namespace karman::app
