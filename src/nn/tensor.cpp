#include "karman/nn/tensor.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace karman::nn {

void populate_host_pages(void* data, std::size_t bytes) {
  constexpr std::size_t kThreshold = std::size_t{32} << 20;
#ifdef __linux__
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE (Linux 5.14; older headers lack it)
  if (data == nullptr || bytes < kThreshold) return;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + page - 1) / page * page;
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) / page * page;
  // EINVAL on older kernels: then the pages fault in at first touch, as without this call.
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, kPopulateWrite);
#else
  (void)data, (void)bytes, (void)kThreshold;
#endif
}

}  // namespace karman::nn
