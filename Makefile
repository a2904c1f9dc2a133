# Thin wrappers around the .ci scripts, which are the source of truth.
.PHONY: demo setup test es-start es-stop

# Install into .venv only what the demo needs (newsmon and its base dependencies: no test extras,
# no torch, no Chromium) and run the main job on the embedded default against the bundled demo
# sites; then new articles appear on them and an alert arrives. `make test` installs the rest.
demo:
	bash .ci/setup --demo
	.venv/bin/newsmon demo --new-articles

setup:
	bash .ci/setup

test:
	bash .ci/test

es-start:
	bash .ci/es start

es-stop:
	bash .ci/es stop
