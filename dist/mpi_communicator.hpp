// The MPI backend's factory (dist/mpi_communicator.cpp; only in builds with DASG_WITH_MPI).
#pragma once
#include <memory>

#include "dist/communicator.hpp"

namespace dasg::dist {

// Initialises MPI on first use (finalised at exit) and returns a communicator over a duplicate
// of MPI_COMM_WORLD.
std::shared_ptr<Communicator> make_mpi_communicator(const CommOptions& options);

}  // namespace dasg::dist
