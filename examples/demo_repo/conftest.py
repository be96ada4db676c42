# Makes the repository root importable for the tests (pytest inserts this directory).
