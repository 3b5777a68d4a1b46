// Unit square [0, 1]² with three circular holes, first-order triangles. tools/mesh sets h; the
// hole boundaries get h/2. Holes (centre; radius): (0.3, 0.3; 0.1), (0.7, 0.35; 0.12),
// (0.45, 0.72; 0.1).
// Physical groups: outer (the square's four sides) 1, holes (the three circles) 2, domain 100.
SetFactory("OpenCASCADE");
DefineConstant[ h = 0.06 ];
Rectangle(1) = {0, 0, 0, 1, 1};
Disk(2) = {0.3, 0.3, 0, 0.1};
Disk(3) = {0.7, 0.35, 0, 0.12};
Disk(4) = {0.45, 0.72, 0, 0.1};
domain() = BooleanDifference{ Surface{1}; Delete; }{ Surface{2, 3, 4}; Delete; };
Mesh.MeshSizeFromCurvature = 0;
MeshSize{ PointsOf{ Surface{domain()}; } } = h;
// The square's sides by position; every other boundary curve is a hole.
eps = 1e-6;
outer() = Curve In BoundingBox{-eps, -eps, -eps, 1 + eps, eps, eps};
outer() += Curve In BoundingBox{1 - eps, -eps, -eps, 1 + eps, 1 + eps, eps};
outer() += Curve In BoundingBox{-eps, 1 - eps, -eps, 1 + eps, 1 + eps, eps};
outer() += Curve In BoundingBox{-eps, -eps, -eps, eps, 1 + eps, eps};
boundary() = Abs(Boundary{ Surface{domain()}; });
holes() = boundary();
holes() -= outer();
MeshSize{ PointsOf{ Curve{holes()}; } } = h / 2;
Physical Curve("outer", 1) = {outer()};
Physical Curve("holes", 2) = {holes()};
Physical Surface("domain", 100) = {domain()};
