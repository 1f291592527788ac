# The README's two commands: `make demo` and `make test`. Both install what they need first.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup build test demo bench wheel
setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --workspace --release

# Lints (with the declared rust-version), then all tests, in one workspace build (mixing -p and --workspace
# flips features and rebuilds tch).
test: setup
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) test --workspace -- --test-threads=2
	bash scripts/python-tests.sh

# The Python package (python/): an abi3 wheel in target/wheels, installed into the setup's venv.
wheel: setup
	.froster/venv/bin/maturin build --release -m python/Cargo.toml -o target/wheels
	.froster/venv/bin/pip install --force-reinstall --no-deps target/wheels/froster_loader-*.whl

# Pack, train, average, evaluate and predict on the embedded fixtures; prints the table.
demo: setup
	$(CARGO) build --workspace --release --bins
	bash scripts/demo.sh $(ARGS)
