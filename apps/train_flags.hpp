// The flags `dasg train` and `dasg finetune` share, read into TrainOptions (train/trainer.hpp),
// whose values are the defaults: the --help text prints them from there, so the usage, the
// options struct and the behaviour cannot disagree.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "apps/flags.hpp"
#include "dist/communicator.hpp"
#include "train/trainer.hpp"

namespace dasg::app {

std::vector<FlagSpec> training_flag_specs();
// Sets every field of `o` whose flag is given, and checks the values' ranges.
void read_training_flags(const Flags& flags, TrainOptions& o);
// The communicator of this process (dist::from_launcher, --dist-timeout), set into o.comm; on a
// rank other than 0 the output is silenced (o.quiet, stdout to /dev/null): rank 0 reports.
std::shared_ptr<dist::Communicator> join_ranks(const Flags& flags, const std::string& who, TrainOptions& o);
// The help lines of the shared flags with the defaults of `d`.
std::string training_flags_help(const TrainOptions& d);

}  // namespace dasg::app
