#include "karman/nn/checkpoint.hpp"

#include <hdf5.h>

#include <cstdio>
#include <filesystem>
#include <functional>

#include "../io/hdf5_support.hpp"
#include "karman/core/collective.hpp"
#include "karman/core/error.hpp"
#include "karman/core/stage_timer.hpp"

namespace karman::nn {

double Checkpoint::scalar(const std::string& name) const {
  auto it = scalars.find(name);
  if (it == scalars.end()) throw ConfigError("checkpoint has no value '" + name + "'");
  return it->second;
}

const std::string& Checkpoint::string(const std::string& name) const {
  auto it = strings.find(name);
  if (it == strings.end()) throw ConfigError("checkpoint has no text '" + name + "'");
  return it->second;
}

namespace {

using io::h5::check;
using io::h5::Id;
using io::h5::make_id;

// Arrays are float64 datasets under /arrays, scalars and strings attributes of the root group.
void write_file(const std::string& path, const Checkpoint& c) {
  Id file = make_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose,
                    "cannot create checkpoint", path);
  // Intermediate groups ("arrays/parameters") are created on demand.
  Id link_plist =
      make_id(H5Pcreate(H5P_LINK_CREATE), H5Pclose, "cannot create a link list for", path);
  check(H5Pset_create_intermediate_group(link_plist.get(), 1), "cannot create a link list for",
        path);
  for (const auto& [name, values] : c.arrays) {
    const hsize_t n = values.size();
    Id space =
        make_id(H5Screate_simple(1, &n, nullptr), H5Sclose, "cannot create a dataspace for", path);
    Id data = make_id(H5Dcreate2(file.get(), ("arrays/" + name).c_str(), H5T_IEEE_F64LE,
                                 space.get(), link_plist.get(), H5P_DEFAULT, H5P_DEFAULT),
                      H5Dclose, "cannot create '" + name + "' in", path);
    if (n)
      check(H5Dwrite(data.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
            "cannot write '" + name + "' to", path);
  }
  for (const auto& [name, value] : c.scalars)
    io::h5::put_scalar(file.get(), name, H5T_NATIVE_DOUBLE, &value, path);
  for (const auto& [name, value] : c.strings) io::h5::put_string(file.get(), name, value, path);
}

struct Reader {
  Checkpoint* c;
  std::string path;
};

herr_t read_dataset(hid_t group, const char* name, const H5O_info_t* info, void* raw) {
  auto& r = *static_cast<Reader*>(raw);
  if (info->type != H5O_TYPE_DATASET || std::string(name) == ".") return 0;
  hid_t data = H5Dopen2(group, name, H5P_DEFAULT);
  if (data < 0) return -1;
  hid_t space = H5Dget_space(data);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<double> values(static_cast<std::size_t>(std::max<hssize_t>(n, 0)));
  herr_t status =
      n > 0 ? H5Dread(data, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) : 0;
  H5Sclose(space);
  H5Dclose(data);
  if (status < 0) return -1;
  r.c->arrays[name] = std::move(values);
  return 0;
}

herr_t read_attribute(hid_t object, const char* name, const H5A_info_t*, void* raw) {
  auto& r = *static_cast<Reader*>(raw);
  hid_t attr = H5Aopen(object, name, H5P_DEFAULT);
  if (attr < 0) return -1;
  hid_t type = H5Aget_type(attr);
  herr_t status = 0;
  if (H5Tget_class(type) == H5T_STRING) {
    hid_t memtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(memtype, H5T_VARIABLE);
    H5Tset_cset(memtype, H5T_CSET_UTF8);
    char* text = nullptr;
    status = H5Aread(attr, memtype, &text);
    if (status >= 0 && text) {
      r.c->strings[name] = text;
      H5free_memory(text);
    }
    H5Tclose(memtype);
  } else {
    double value = 0;
    status = H5Aread(attr, H5T_NATIVE_DOUBLE, &value);
    r.c->scalars[name] = value;
  }
  H5Tclose(type);
  H5Aclose(attr);
  return status;
}

// HDF5 prints its error stack on every failed call. A checkpoint that is not HDF5, truncated or
// overwritten is the user's input problem, reported as one ConfigError line: silence HDF5 while
// reading (and restore whatever handler the program had).
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &m_handler, &m_data);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, m_handler, m_data); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  H5E_auto2_t m_handler = nullptr;
  void* m_data = nullptr;
};

Checkpoint read_file(const std::string& path) {
  Checkpoint c;
  QuietHdf5 quiet;
  hid_t id = std::filesystem::is_regular_file(path)
                 ? H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)
                 : -1;
  if (id < 0) throw ConfigError(Place{path, 0, 0}, "cannot open checkpoint (missing or not HDF5)");
  Id file(id, H5Fclose);
  Reader reader{&c, path};
  try {
    if (H5Lexists(file.get(), "arrays", H5P_DEFAULT) > 0) {
      Id arrays = make_id(H5Gopen2(file.get(), "arrays", H5P_DEFAULT), H5Gclose,
                          "cannot open the arrays of", path);
      check(H5Ovisit2(arrays.get(), H5_INDEX_NAME, H5_ITER_INC, read_dataset, &reader,
                      H5O_INFO_BASIC),
            "cannot read the arrays of", path);
    }
    check(H5Aiterate2(file.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, read_attribute, &reader),
          "cannot read the attributes of", path);
  } catch (const ExternalError&) {
    throw ConfigError(Place{path, 0, 0}, "cannot read checkpoint (corrupt or truncated file)");
  }
  return c;
}

}  // namespace

void save_checkpoint(MPI_Comm comm, const std::string& path, const Checkpoint& checkpoint) {
  const ScopedStage timed_stage(Stage::io);
  run_on_rank0(comm, [&] {
    const std::string temporary = path + ".tmp";
    write_file(temporary, checkpoint);
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
      throw ExternalError("filesystem", errno, "cannot rename " + temporary + " to " + path);
  });
}

Checkpoint load_checkpoint(MPI_Comm comm, const std::string& path) {
  // Every rank reads the (small) file itself; failures are the same everywhere.
  (void)comm;
  return read_file(path);
}

template <class T>
void store_parameters(Checkpoint& c, const Parameters<T>& parameters) {
  auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
  for (const auto& p : parameters.infos())
    c.arrays["parameters/" + p.name] =
        std::vector<double>(values.data() + p.offset, values.data() + p.offset + p.size());
}

template <class T>
void restore_parameters(const Checkpoint& c, Parameters<T>& parameters, const std::string& path) {
  auto values = Kokkos::create_mirror_view(parameters.values());
  for (const auto& p : parameters.infos()) {
    auto it = c.arrays.find("parameters/" + p.name);
    if (it == c.arrays.end() || it->second.size() != p.size())
      throw ConfigError(Place{path, 0, 0}, "checkpoint does not match the model: parameter '" +
                                               p.name + "' is missing or has another size");
    for (std::size_t i = 0; i < p.size(); ++i) values(p.offset + i) = static_cast<T>(it->second[i]);
  }
  Kokkos::deep_copy(parameters.values(), values);
}

template <class T>
void store_optimizer(Checkpoint& c, Optimizer<T>& optimizer) {
  c.strings["optimizer"] = optimizer.name();
  for (auto& [name, vector] : optimizer.state().vectors) {
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), vector);
    c.arrays["optimizer/" + name] = std::vector<double>(host.data(), host.data() + host.size());
  }
  for (auto& [name, value] : optimizer.state().scalars) c.scalars["optimizer." + name] = value;
}

template <class T>
void restore_optimizer(const Checkpoint& c, Optimizer<T>& optimizer, const std::string& path) {
  if (c.strings.count("optimizer") == 0 || c.strings.at("optimizer") != optimizer.name())
    throw ConfigError(Place{path, 0, 0}, "checkpoint was written by another optimizer than '" +
                                             optimizer.name() + "'");
  for (auto& [name, vector] : optimizer.state().vectors) {
    auto it = c.arrays.find("optimizer/" + name);
    if (it == c.arrays.end() || it->second.size() != vector.size())
      throw ConfigError(Place{path, 0, 0},
                        "checkpoint optimizer state '" + name + "' is missing or has another size");
    auto host = Kokkos::create_mirror_view(vector);
    for (std::size_t i = 0; i < host.size(); ++i) host(i) = static_cast<T>(it->second[i]);
    Kokkos::deep_copy(vector, host);
  }
  for (auto& [name, value] : optimizer.state().scalars) value = c.scalar("optimizer." + name);
}

template void store_parameters<float>(Checkpoint&, const Parameters<float>&);
template void store_parameters<double>(Checkpoint&, const Parameters<double>&);
template void restore_parameters<float>(const Checkpoint&, Parameters<float>&, const std::string&);
template void restore_parameters<double>(const Checkpoint&, Parameters<double>&,
                                         const std::string&);
template void store_optimizer<float>(Checkpoint&, Optimizer<float>&);
template void store_optimizer<double>(Checkpoint&, Optimizer<double>&);
template void restore_optimizer<float>(const Checkpoint&, Optimizer<float>&, const std::string&);
template void restore_optimizer<double>(const Checkpoint&, Optimizer<double>&, const std::string&);

}  // namespace karman::nn
