"""Dev tooling shared by the test suites and the benchmarks (not shipped with the package): running
our real processes on free ports and waiting for them, a whole fleet on an external simulator, and a
throwaway PostgreSQL cluster. Importable from the repository root; `tests/` is never a library."""
