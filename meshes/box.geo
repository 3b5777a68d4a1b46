// Unit cube [0, 1]³, first-order tetrahedra. tools/mesh sets h.
// Physical groups: xmin 1, xmax 2, ymin 3, ymax 4, zmin 5, zmax 6 (the faces x = 0, x = 1, ...),
// domain 100.
SetFactory("OpenCASCADE");
DefineConstant[ h = 0.2 ];
Box(1) = {0, 0, 0, 1, 1, 1};
MeshSize{ PointsOf{ Volume{1}; } } = h;
// Face tags by position, not by OpenCASCADE's numbering.
eps = 1e-6;
xmin() = Surface In BoundingBox{-eps, -eps, -eps, eps, 1 + eps, 1 + eps};
xmax() = Surface In BoundingBox{1 - eps, -eps, -eps, 1 + eps, 1 + eps, 1 + eps};
ymin() = Surface In BoundingBox{-eps, -eps, -eps, 1 + eps, eps, 1 + eps};
ymax() = Surface In BoundingBox{-eps, 1 - eps, -eps, 1 + eps, 1 + eps, 1 + eps};
zmin() = Surface In BoundingBox{-eps, -eps, -eps, 1 + eps, 1 + eps, eps};
zmax() = Surface In BoundingBox{-eps, -eps, 1 - eps, 1 + eps, 1 + eps, 1 + eps};
Physical Surface("xmin", 1) = {xmin()};
Physical Surface("xmax", 2) = {xmax()};
Physical Surface("ymin", 3) = {ymin()};
Physical Surface("ymax", 4) = {ymax()};
Physical Surface("zmin", 5) = {zmin()};
Physical Surface("zmax", 6) = {zmax()};
Physical Volume("domain", 100) = {1};
