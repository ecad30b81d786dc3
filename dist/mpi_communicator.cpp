// The MPI backend (see communicator.hpp): nonblocking MPI collectives waited on with a deadline,
// host buffers for CPU tensors, NCCL (where built) or host staging for CUDA tensors.
#include "dist/mpi_communicator.hpp"

#include <mpi.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "dist/buckets.hpp"
#include "engine/error.hpp"
#if DASG_WITH_NCCL
#include "dist/nccl_reduce.hpp"
#endif

namespace dasg::dist {

namespace {

// MPI_Init once per process (thread level FUNNELED: only the main thread calls MPI); finalised
// at exit. A process that aborts never gets there (MPI_Abort ends it).
void ensure_mpi() {
  int done = 0;
  MPI_Initialized(&done);
  if (done) return;
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  std::atexit([] {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  });
}

MPI_Datatype mpi_type(DType d) {
  if (d == DType::f32) return MPI_FLOAT;
  if (d == DType::f64) return MPI_DOUBLE;
  DASG_FAIL("MPI: no reduction for dtype ", dtype_name(d));
}

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const CommOptions& o) : o_(o) {
    ensure_mpi();
    MPI_Comm_dup(MPI_COMM_WORLD, &comm_);
    MPI_Comm_dup(MPI_COMM_WORLD, &started_comm_);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_free(&node);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(version, &len);
    std::string v(version, (size_t)len);
    backend_ = "MPI (" + v.substr(0, v.find_first_of(",\n")) + ")";
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
      MPI_Comm_free(&comm_);
      MPI_Comm_free(&started_comm_);
    }
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int64_t bucket_bytes() const override { return o_.bucket_bytes; }
  std::string backend() const override {
#if DASG_WITH_NCCL
    return backend_ + " + NCCL for CUDA tensors";
#else
    return backend_;
#endif
  }

  void all_reduce_sum(const std::vector<Tensor>& tensors) override {
    for_each_bucket(tensors, o_.bucket_bytes, "all_reduce_sum", [&](Tensor& flat) {
      if (flat.device().is_cuda()) return device_reduce(flat);
      reduce_host(flat.raw_data(), flat.numel(), mpi_type(flat.dtype()), "all-reduce");
    });
  }

  void start_all_reduce_sum(const Tensor& flat) override {
    DASG_CHECK(flat.defined() && (flat.dtype() == DType::f32 || flat.dtype() == DType::f64),
               "start_all_reduce_sum: ", flat.defined() ? flat.str() : std::string("an undefined tensor"),
               "; expected an f32 or f64 tensor");
    if (flat.device().is_cuda()) {
      Tensor t = flat;
      device_reduce(t);
      return;
    }
    const MPI_Datatype type = mpi_type(flat.dtype());
    const int64_t n = flat.numel(), esize = (int64_t)dtype_size(flat.dtype());
    for (int64_t at = 0; at < n; at += INT_MAX / 2) {
      started_.push_back({flat, MPI_REQUEST_NULL});
      MPI_Iallreduce(MPI_IN_PLACE, static_cast<char*>(flat.raw_data()) + at * esize,
                     (int)std::min<int64_t>(INT_MAX / 2, n - at), type, MPI_SUM, started_comm_, &started_.back().r);
    }
  }

  void progress() override {
    for (Started& s : started_) {
      int done = 0;
      if (s.r != MPI_REQUEST_NULL) MPI_Test(&s.r, &done, MPI_STATUS_IGNORE);
    }
  }

  void finish_started() override {
    for (Started& s : started_)
      if (s.r != MPI_REQUEST_NULL) wait(s.r, "all-reduce of the gradients (started during the backward)");
    started_.clear();
  }

  void all_reduce_sum(std::vector<double>& values) override {
    reduce_host(values.data(), (int64_t)values.size(), MPI_DOUBLE, "all-reduce of the step's values");
  }

  void broadcast(const std::vector<Tensor>& tensors, int root) override {
    check_root(root);
    for (const Tensor& t0 : tensors) {
      Tensor t = t0;
      DASG_CHECK(t.defined(), "broadcast: an undefined tensor");
      if (t.device().is_cuda()) {
#if DASG_WITH_NCCL
        if (!nccl(t.device().index).broadcast(t, root, o_.timeout_s)) timed_out("NCCL broadcast");
        continue;
#else
        Tensor host = t.to(kCPU);
        bcast_bytes(host.raw_data(), host.numel() * (int64_t)dtype_size(host.dtype()), root);
        t.copy_from(host);
        continue;
#endif
      }
      bcast_bytes(t.raw_data(), t.numel() * (int64_t)dtype_size(t.dtype()), root);
    }
  }

  void broadcast(std::string& text, int root) override {
    check_root(root);
    double n = (double)text.size();
    std::vector<double> len = {rank_ == root ? n : 0.0};
    all_reduce_sum(len);  // root's length everywhere
    text.resize((size_t)len[0]);
    bcast_bytes(text.data(), (int64_t)text.size(), root);
  }

  void barrier() override {
    MPI_Request r;
    MPI_Ibarrier(comm_, &r);
    wait(r, "barrier");
  }

  Tensor all_to_all_rows(const Tensor& rows, const std::vector<int64_t>& send_counts,
                         std::vector<int64_t>& recv_counts) override {
    DASG_CHECK(rows.device().is_cpu() && rows.dim() >= 1, "all_to_all_rows: ", rows.str(),
               "; expected a CPU tensor of rows");
    DASG_CHECK((int)send_counts.size() == size_, "all_to_all_rows: ", send_counts.size(), " send counts for ",
               size_, " ranks");
    int64_t total = 0;
    for (int64_t c : send_counts) total += c;
    DASG_CHECK(total == rows.size(0), "all_to_all_rows: send counts sum to ", total, " but ", rows.str(), " has ",
               rows.size(0), " rows");
    recv_counts.assign((size_t)size_, 0);
    MPI_Request r;
    MPI_Ialltoall(send_counts.data(), 1, MPI_INT64_T, recv_counts.data(), 1, MPI_INT64_T, comm_, &r);
    wait(r, "all-to-all of row counts");
    Shape row = rows.shape();
    row.erase(row.begin());
    const int64_t row_bytes = dasg::numel(row) * (int64_t)dtype_size(rows.dtype());
    std::vector<int> sc(size_), sd(size_), rc(size_), rd(size_);
    int64_t in = 0, out = 0;
    for (int p = 0; p < size_; ++p) {
      DASG_CHECK((in + send_counts[p]) * row_bytes < INT_MAX && (out + recv_counts[p]) * row_bytes < INT_MAX,
                 "all_to_all_rows: more than 2 GiB in one exchange");
      sc[p] = (int)(send_counts[p] * row_bytes);
      sd[p] = (int)(in * row_bytes);
      rc[p] = (int)(recv_counts[p] * row_bytes);
      rd[p] = (int)(out * row_bytes);
      in += send_counts[p];
      out += recv_counts[p];
    }
    Shape shape = rows.shape();
    shape[0] = out;
    Tensor result = Tensor::empty(shape, rows.dtype(), kCPU);
    MPI_Ialltoallv(rows.raw_data(), sc.data(), sd.data(), MPI_BYTE, result.raw_data(), rc.data(), rd.data(), MPI_BYTE,
                   comm_, &r);
    wait(r, "all-to-all of rows");
    return result;
  }

  [[noreturn]] void abort(const std::string& why, int code) override {
    std::fprintf(stderr, "dasg: rank %d of %d: %s\n", rank_, size_, why.c_str());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; in case it does
  }

 private:
  void check_root(int root) const {
    DASG_CHECK(root >= 0 && root < size_, "broadcast: root ", root, " in a world of ", size_);
  }

  // Waits for `r`, polling, until the deadline; past it the run is aborted naming `what`.
  void wait(MPI_Request& r, const char* what) {
    const auto start = std::chrono::steady_clock::now();
    int done = 0;
    for (int spin = 0;; ++spin) {
      MPI_Test(&r, &done, MPI_STATUS_IGNORE);
      if (done) return;
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited > o_.timeout_s) timed_out(what);
      // Yield the core at once (ranks may share cores), sleep once the wait is long.
      if (spin < 1000) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }

  [[noreturn]] void timed_out(const char* what) {
    char msg[512];
    std::snprintf(msg, sizeof msg,
                  "%s did not complete within %.0f s: another rank died, hangs or is far behind; aborting every "
                  "rank (--dist-timeout sets the limit)", what, o_.timeout_s);
    abort(msg, 1);
  }

  // In place Σ of n elements of `type` at p, in chunks MPI's int counts can hold.
  void reduce_host(void* p, int64_t n, MPI_Datatype type, const char* what) {
    int esize = 0;
    MPI_Type_size(type, &esize);
    for (int64_t at = 0; at < n; at += INT_MAX / 2) {
      const int count = (int)std::min<int64_t>(INT_MAX / 2, n - at);
      MPI_Request r;
      MPI_Iallreduce(MPI_IN_PLACE, static_cast<char*>(p) + at * esize, count, type, MPI_SUM, comm_, &r);
      wait(r, what);
    }
  }

  void bcast_bytes(void* p, int64_t n, int root) {
    for (int64_t at = 0; at < n; at += INT_MAX / 2) {
      MPI_Request r;
      MPI_Ibcast(static_cast<char*>(p) + at, (int)std::min<int64_t>(INT_MAX / 2, n - at), MPI_BYTE, root, comm_, &r);
      wait(r, "broadcast");
    }
  }

  // A bucket of CUDA tensors: NCCL where built, else through host memory.
  void device_reduce(Tensor& flat) {
#if DASG_WITH_NCCL
    if (!nccl(flat.device().index).all_reduce_sum(flat, o_.timeout_s)) timed_out("NCCL all-reduce");
#else
    Tensor host = flat.to(kCPU);
    reduce_host(host.raw_data(), host.numel(), mpi_type(host.dtype()), "all-reduce (CUDA tensors staged on the host)");
    flat.copy_from(host);
#endif
  }

#if DASG_WITH_NCCL
  // The NCCL communicator of `device`, set up through MPI on first use.
  NcclReduce& nccl(int device) {
    if (nccl_) {
      DASG_CHECK(nccl_->device() == device, "NCCL: this rank's communicator is on cuda:", nccl_->device(),
                 ", a collective asked for cuda:", device, "; one rank uses one GPU");
      return *nccl_;
    }
    std::string id = rank_ == 0 ? NcclReduce::make_unique_id() : std::string();
    broadcast(id, 0);
    nccl_ = std::make_unique<NcclReduce>(id, rank_, size_, device);
    return *nccl_;
  }
  std::unique_ptr<NcclReduce> nccl_;
#endif

  struct Started {
    Tensor flat;  // kept alive until its reduction completes
    MPI_Request r;
  };
  std::vector<Started> started_;
  CommOptions o_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm started_comm_ = MPI_COMM_NULL;  // the started (nonblocking) reductions
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  std::string backend_;
};

}  // namespace

std::shared_ptr<Communicator> make_mpi_communicator(const CommOptions& options) {
  return std::make_shared<MpiCommunicator>(options);
}

}  // namespace dasg::dist
