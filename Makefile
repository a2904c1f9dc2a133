# Thin wrappers around the .ci scripts, which are the source of truth.
.PHONY: demo setup test es-start es-stop

# Install into .venv and run the main job on the embedded default against the bundled demo sites.
demo: setup
	.venv/bin/newsmon demo

setup:
	bash .ci/setup

test:
	bash .ci/test

es-start:
	bash .ci/es start

es-stop:
	bash .ci/es stop
