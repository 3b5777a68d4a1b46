// L-shape: [-1, 1]² without the quadrant x > 0, y < 0 (re-entrant corner at the origin),
// first-order triangles. tools/mesh sets h; the mesh is graded towards the corner (h/4 there).
// Physical groups: outer (the four edges away from the corner) 1, reentrant (the two edges
// meeting at the origin: x = 0, y in [-1, 0] and y = 0, x in [0, 1]) 2, domain 100.
DefineConstant[ h = 0.1 ];
Point(1) = {-1, -1, 0, h};
Point(2) = {0, -1, 0, h};
Point(3) = {0, 0, 0, h / 4};  // the re-entrant corner
Point(4) = {1, 0, 0, h};
Point(5) = {1, 1, 0, h};
Point(6) = {-1, 1, 0, h};
Line(1) = {1, 2};  // y = -1
Line(2) = {2, 3};  // x = 0 (re-entrant)
Line(3) = {3, 4};  // y = 0 (re-entrant)
Line(4) = {4, 5};  // x = 1
Line(5) = {5, 6};  // y = 1
Line(6) = {6, 1};  // x = -1
Curve Loop(1) = {1, 2, 3, 4, 5, 6};
Plane Surface(1) = {1};
Physical Curve("outer", 1) = {1, 4, 5, 6};
Physical Curve("reentrant", 2) = {2, 3};
Physical Surface("domain", 100) = {1};
