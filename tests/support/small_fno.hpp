#pragma once
// cases/fno/darcy2d.yaml made small for the CLI tests (test_cli_fno, test_cli_interrupt, ...): 48
// samples on 65² subsampled to 33² (40 training, 8 test), a narrow FNO, batches of 8 (5 steps per
// epoch), validation every epoch, `epochs` of Adam; `extra` arguments (more --set) come last and
// win over these.
#include <string>
#include <vector>

#include "support/cli.hpp"

namespace karman::test {

inline std::vector<std::string> small_darcy(const std::string& output, long epochs,
                                            std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      "run",
      (source_dir() / "cases" / "fno" / "darcy2d.yaml").string(),
      "--output",
      output,
      "--quiet",
      "--set",
      "data.samples=48",
      "--set",
      "data.train=40",
      "--set",
      "data.test=8",
      "--set",
      "data.resolution=65",
      "--set",
      "data.stride=2",
      "--set",
      "model={modes: 8, width: 12, layers: 2, projection: 32, padding: 4}",
      "--set",
      "training.batch_size=8",
      "--set",
      "training.validate_every=1",
      "--set",
      "training.stages=[{optimizer: adam, epochs: " + std::to_string(epochs) +
          ", lr: 3.0e-3, schedule: step, every: 10, gamma: 0.5}]",
      "--set",
      "evaluation={baseline_samples: 4, fields: 2}"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace karman::test
