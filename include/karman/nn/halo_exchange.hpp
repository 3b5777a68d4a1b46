#pragma once
// The halo exchange of a distributed mesh graph as a graph layer
// (karman/mesh/distributed_graph.hpp), placed before every message-passing layer on a partitioned
// mesh:
//
//   forward:   h_out = h with every halo row replaced by its owner's row   [N_local, W_h]
//              (PetscSFBcast from the owned rows), e_out = e (the same view: each edge lives on
//              one rank only)                                              [E, W_e]
//   backward:  dh = dh_out with every owned row plus the rows of its halo copies on all ranks
//              (PetscSFReduce, MPI_SUM), the halo rows 0; de = de_out (the same view).
// The transpose is exact: a halo row of h does not reach h_out, and each owned row reaches its
// own row and every copy of it. No parameters. Collective over the halo's communicator: every
// rank calls forward and backward the same number of times.

#include "karman/mesh/distributed_graph.hpp"
#include "karman/nn/graph_module.hpp"

namespace karman::nn {

template <class T>
class HaloExchange : public GraphModule<T> {
 public:
  // `halo` of the graph the layer runs on (DistributedGraph::halo; shared, not copied).
  HaloExchange(mesh::Halo halo, std::size_t node_features, std::size_t edge_features);

  std::string kind() const override { return "halo_exchange"; }
  std::size_t node_in_features() const override { return m_node_features; }
  std::size_t edge_in_features() const override { return m_edge_features; }
  std::size_t node_out_features() const override { return m_node_features; }
  std::size_t edge_out_features() const override { return m_edge_features; }

 protected:
  void forward_impl(GraphContext<T>& context, Workspace<T>& workspace) override;
  void backward_impl(GraphContext<T>& context, const Matrix<T>& dh_out, const Matrix<T>& de_out,
                     const Gradient<T>& gradient) override;

 private:
  mesh::Halo m_halo;
  std::size_t m_node_features, m_edge_features;
};

}  // namespace karman::nn
