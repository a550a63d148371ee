"""How vdpa-lint plugs into the maintainer's workflow: b4 (check-patch), kbuild (cc),
the tree's .vdpa-lint.toml, and what --version and --help say. The CLI registers these
subcommands and options; the work is done here, on top of the engine and the gate."""
