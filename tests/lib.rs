//! Satchel system tests live in `system/`, benchmarks in `bench/`.
