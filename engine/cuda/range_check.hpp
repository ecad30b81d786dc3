// Deferred device-side range checks of indices (embedding ids, index_select rows), so that
// checking them costs no device→host copy per call. A kernel that reads indices gets a slot —
// one 64-bit word of a per-device buffer — and, for every index out of range, skips it (writes
// no row from it) and records it with atomicMin(slot, position << 32 | (uint32) value): the slot
// ends up holding the first bad position and its value, whatever order the threads ran in.
// The slots are read at the next point where the host waits for the device anyway — every
// device→host copy (Tensor::to(kCPU), item(): the step's first result read) calls check_ranges
// after its synchronize — with one small extra copy, only when a check ran since the last read.
// A bad index then throws dasg::Error with the op's own message (the CPU twin's text) and says
// where it was found. Slots of one device are reset by each read; 4096 calls between two reads
// force an early read.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace dasg::cuda {

// message(position, value) names the op, the index, its position and the valid range.
using RangeMessage = std::function<std::string(int64_t position, int64_t value)>;

// A slot for one kernel call's indices on `device` (device memory, all ones = "no bad index").
unsigned long long* range_slot(int device, RangeMessage message);

// Reads and resets the device's slots used since the last read; throws the first (in call
// order) failed check's message. Cheap when no check ran.
void check_ranges(int device);

}  // namespace dasg::cuda
