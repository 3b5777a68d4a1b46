#include "karman/nn/message_graph.hpp"

#include <string>

#include "karman/core/error.hpp"

namespace karman::nn {

namespace {

GraphIndex to_device(const std::vector<long>& host, const char* label) {
  GraphIndex device(Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing),
                    host.size());
  Kokkos::View<const long*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> view(
      host.data(), host.size());
  Kokkos::deep_copy(device, view);
  return device;
}

}  // namespace

MessageGraph make_message_graph(long nodes, const std::vector<long>& row,
                                const std::vector<long>& col) {
  KARMAN_VERIFY(nodes >= 0, "message graph: negative node count");
  KARMAN_VERIFY(row.size() == col.size(),
                "message graph: the receivers and senders of the edges differ in length");
  const long edges = static_cast<long>(row.size());
  std::vector<long> incident_ptr(nodes + 1, 0), degree(nodes, 0);
  for (long k = 0; k < edges; ++k) {
    const long i = row[k], j = col[k];
    KARMAN_VERIFY(0 <= i && i < nodes && 0 <= j && j < nodes,
                  "message graph: edge " + std::to_string(k) + " = (" + std::to_string(j) + " → " +
                      std::to_string(i) + ") has an end outside the " + std::to_string(nodes) +
                      " nodes");
    ++degree[i];
    ++incident_ptr[i + 1];
    if (j != i) ++incident_ptr[j + 1];  // a self-loop is listed once
  }
  for (long i = 0; i < nodes; ++i) incident_ptr[i + 1] += incident_ptr[i];
  std::vector<long> incident(incident_ptr[nodes]);
  std::vector<long> next(incident_ptr.begin(), incident_ptr.end() - 1);
  for (long k = 0; k < edges; ++k) {
    incident[next[row[k]]++] = k;
    if (col[k] != row[k]) incident[next[col[k]]++] = k;
  }

  MessageGraph graph;
  graph.nodes = nodes;
  graph.edges = edges;
  graph.row = to_device(row, "karman::nn::message_graph::row");
  graph.col = to_device(col, "karman::nn::message_graph::col");
  graph.incident_ptr = to_device(incident_ptr, "karman::nn::message_graph::incident_ptr");
  graph.incident = to_device(incident, "karman::nn::message_graph::incident");
  graph.degree = to_device(degree, "karman::nn::message_graph::degree");
  return graph;
}

}  // namespace karman::nn
