"""Physics-grounded simulators, one per chapter, writing ROOT files with the real ntuple schemas."""
