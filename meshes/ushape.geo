// U-shaped channel: [0, 3] x [0, 2] without the slot [1, 2] x [0.8, 2], first-order triangles.
// Flow enters at the top of the left arm and leaves at the top of the right arm. tools/mesh
// sets h.
// Physical groups: inflow (y = 2, x in [0, 1]) 1, outflow (y = 2, x in [2, 3]) 2, walls (every
// other edge) 3, domain 100.
DefineConstant[ h = 0.1 ];
Point(1) = {0, 0, 0, h};
Point(2) = {3, 0, 0, h};
Point(3) = {3, 2, 0, h};
Point(4) = {2, 2, 0, h};
Point(5) = {2, 0.8, 0, h};
Point(6) = {1, 0.8, 0, h};
Point(7) = {1, 2, 0, h};
Point(8) = {0, 2, 0, h};
Line(1) = {1, 2};
Line(2) = {2, 3};
Line(3) = {3, 4};  // outflow
Line(4) = {4, 5};
Line(5) = {5, 6};
Line(6) = {6, 7};
Line(7) = {7, 8};  // inflow
Line(8) = {8, 1};
Curve Loop(1) = {1, 2, 3, 4, 5, 6, 7, 8};
Plane Surface(1) = {1};
Physical Curve("inflow", 1) = {7};
Physical Curve("outflow", 2) = {3};
Physical Curve("walls", 3) = {1, 2, 4, 5, 6, 8};
Physical Surface("domain", 100) = {1};
