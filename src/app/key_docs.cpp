#include "key_docs.hpp"

#include <yaml-cpp/yaml.h>

#include <map>

#include "karman/core/error.hpp"

namespace karman::app {

extern const char* const key_docs_yaml;  // src/app/key_docs.yaml, compiled in

namespace {

using Meanings = std::map<std::string, std::map<std::string, std::string>>;  // kind -> key -> text

Meanings parse_key_docs() {
  Meanings out;
  try {
    for (const auto& kind : YAML::Load(key_docs_yaml))
      for (const auto& key : kind.second)
        out[kind.first.as<std::string>()][key.first.as<std::string>()] =
            key.second.as<std::string>();
  } catch (const YAML::Exception& e) {
    throw InternalError("src/app/key_docs.yaml: " + e.msg);
  }
  return out;
}

}  // namespace

std::string key_meaning(const std::string& kind, const std::string& path) {
  static const Meanings meanings = parse_key_docs();
  for (const std::string& group : {kind, std::string("all")}) {
    auto in_group = meanings.find(group);
    if (in_group == meanings.end()) continue;
    auto it = in_group->second.find(path);
    if (it != in_group->second.end()) return it->second;
  }
  return {};
}

}  // namespace karman::app
