"""Repository tooling: offline SAM translation and template linting."""
