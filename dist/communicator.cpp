// The single-process communicator, the choice of backend from the launcher's environment, and
// the abort-on-error wrapper (see communicator.hpp).
#include "dist/communicator.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "dist/mpi_communicator.hpp"
#include "engine/error.hpp"

namespace dasg::dist {

namespace {

// World size 1: every collective leaves its arguments as they are.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string backend() const override { return "single process"; }
  int64_t bucket_bytes() const override { return CommOptions{}.bucket_bytes; }
  void all_reduce_sum(const std::vector<Tensor>&) override {}
  void all_reduce_sum(std::vector<double>&) override {}
  void start_all_reduce_sum(const Tensor&) override {}
  void progress() override {}
  void finish_started() override {}
  void broadcast(const std::vector<Tensor>&, int root) override { check_root(root); }
  void broadcast(std::string&, int root) override { check_root(root); }
  void barrier() override {}
  Tensor all_to_all_rows(const Tensor& rows, const std::vector<int64_t>& send_counts,
                         std::vector<int64_t>& recv_counts) override {
    DASG_CHECK(send_counts.size() == 1 && rows.dim() >= 1 && send_counts[0] == rows.size(0),
               "all_to_all_rows: ", send_counts.size(), " send counts for ", rows.str(), " in a world of 1");
    recv_counts = send_counts;
    return rows;
  }
  [[noreturn]] void abort(const std::string& why, int code) override {
    std::fprintf(stderr, "dasg: %s\n", why.c_str());
    std::exit(code);
  }

 private:
  static void check_root(int root) { DASG_CHECK(root == 0, "broadcast: root ", root, " in a world of 1"); }
};

// The world size a launcher announced in the environment (0: no launcher).
int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* v = std::getenv(name);
    if (v && *v) return std::atoi(v);
  }
  return std::getenv("PMIX_RANK") ? 1 : 0;
}

}  // namespace

std::shared_ptr<Communicator> single_process() { return std::make_shared<SingleProcess>(); }

bool built_with_mpi() { return DASG_WITH_MPI != 0; }
bool built_with_nccl() { return DASG_WITH_NCCL != 0; }

std::shared_ptr<Communicator> from_launcher(const std::string& who, const CommOptions& options) {
  const int launched = launcher_world_size();
  if (launched == 0) return single_process();
#if DASG_WITH_MPI
  return make_mpi_communicator(options);
#else
  (void)options;
  if (launched == 1) return single_process();
  DASG_FAIL(who, ": started by a launcher as one of ", launched, " processes (mpirun/srun), but this dasg was "
            "built without MPI, so the processes cannot talk to each other; install libopenmpi-dev "
            "(third_party/install.sh), configure the build again without -DDASG_MPI=OFF (CMake then prints 'dasg: MPI found') and "
            "rebuild, or run one process without mpirun");
#endif
}

int run_or_abort(Communicator& comm, const std::function<int()>& body) {
  if (comm.size() == 1) return body();
  try {
    return body();
  } catch (const std::exception& e) {
    comm.abort(std::string("error: ") + e.what(), 1);
  }
  return 1;  // not reached: abort ends the process
}

}  // namespace dasg::dist
