"""From a library to a fit: GH projection, weights, M/L sweeps, the orbit-model cube, Δχ², model kinematics."""
