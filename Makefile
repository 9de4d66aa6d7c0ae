# Convenience aliases; the scripts in scripts/ do the work and install what they need.
# Extra arguments: make up ARGS="--app airline", make test ARGS="-k weather".
.PHONY: up test check bench
up:
	scripts/up $(ARGS)
test:
	scripts/test $(ARGS)
check:
	scripts/check
bench:
	scripts/bench $(ARGS)
