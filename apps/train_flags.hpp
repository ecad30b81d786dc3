// The flags `dasg train` and `dasg finetune` share, read into TrainOptions (train/trainer.hpp),
// whose values are the defaults: the --help text prints them from there, so the usage, the
// options struct and the behaviour cannot disagree.
#pragma once
#include <string>
#include <vector>

#include "apps/flags.hpp"
#include "train/trainer.hpp"

namespace dasg::app {

std::vector<FlagSpec> training_flag_specs();
// Sets every field of `o` whose flag is given, and checks the values' ranges.
void read_training_flags(const Flags& flags, TrainOptions& o);
// The help lines of the shared flags with the defaults of `d`.
std::string training_flags_help(const TrainOptions& d);

}  // namespace dasg::app
