// Unit square [0, 1]², first-order triangles. tools/mesh sets h (the characteristic length).
// Physical groups: left (x = 0) 1, right (x = 1) 2, bottom (y = 0) 3, top (y = 1) 4, domain 100.
DefineConstant[ h = 0.05 ];
Point(1) = {0, 0, 0, h};
Point(2) = {1, 0, 0, h};
Point(3) = {1, 1, 0, h};
Point(4) = {0, 1, 0, h};
Line(1) = {1, 2};  // bottom
Line(2) = {2, 3};  // right
Line(3) = {3, 4};  // top
Line(4) = {4, 1};  // left
Curve Loop(1) = {1, 2, 3, 4};
Plane Surface(1) = {1};
Physical Curve("left", 1) = {4};
Physical Curve("right", 2) = {2};
Physical Curve("bottom", 3) = {1};
Physical Curve("top", 4) = {3};
Physical Surface("domain", 100) = {1};
