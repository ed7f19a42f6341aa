"""Neural components: encoders, the energy, inference networks and the baselines."""
