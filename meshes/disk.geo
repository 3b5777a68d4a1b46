// Unit disk (centre 0, radius 1), first-order triangles. tools/mesh sets h.
// Physical groups: boundary (the circle) 1, domain 100.
SetFactory("OpenCASCADE");
DefineConstant[ h = 0.1 ];
Disk(1) = {0, 0, 0, 1};
MeshSize{ PointsOf{ Surface{1}; } } = h;
Mesh.MeshSizeFromCurvature = 0;
Physical Curve("boundary", 1) = Boundary{ Surface{1}; };
Physical Surface("domain", 100) = {1};
