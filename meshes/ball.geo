// Unit ball (centre 0, radius 1), first-order tetrahedra. tools/mesh sets h.
// Physical groups: surface (the sphere) 1, domain 100.
SetFactory("OpenCASCADE");
DefineConstant[ h = 0.3 ];
Sphere(1) = {0, 0, 0, 1};
MeshSize{ PointsOf{ Volume{1}; } } = h;
Mesh.MeshSizeFromCurvature = 0;
Physical Surface("surface", 1) = Boundary{ Volume{1}; };
Physical Volume("domain", 100) = {1};
