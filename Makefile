# SPDX-License-Identifier: GPL-2.0
# rasync: entry points.  `make run` and `make check` do all set-up themselves.
# Inside kbuild (M=...), only Kbuild matters; this file drives the host side.

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

TESTS ?=

.PHONY: all setup kernel kernel-debug module module-debug run check bench clean

all: module

setup:
	bash scripts/setup.sh

kernel: setup
	bash qemu/build-kernel.sh run

kernel-debug: setup
	bash qemu/build-kernel.sh debug

module: setup
	bash qemu/build-module.sh run

module-debug: setup
	CLIPPY=1 bash qemu/build-module.sh debug

# Boot the guest, load rasync.ko, run the fio demo.
run: setup
	bash scripts/run.sh

# Host checks, then the KTAP suite in the guest on the debug kernel.
# `make check TESTS="rasync_read"` runs only the named guest tests.
check: setup
	bash scripts/check.sh $(TESTS)

# The seed's comparison (not part of check): see README "Benchmark".
bench: setup
	bash scripts/bench.sh

clean:
	rm -rf out
endif
