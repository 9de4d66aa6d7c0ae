# Convenience aliases; the scripts in scripts/ do the work and install what they need.
.PHONY: up test check bench
up:
	scripts/up
test:
	scripts/test
check:
	scripts/check
bench:
	scripts/bench
