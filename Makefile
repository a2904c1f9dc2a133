# Thin wrappers around the .ci scripts, which are the source of truth.
.PHONY: setup test es-start es-stop

setup:
	bash .ci/setup

test:
	bash .ci/test

es-start:
	bash .ci/es start

es-stop:
	bash .ci/es stop
