# SPDX-License-Identifier: GPL-2.0
# rasync: entry points.  `make run` and `make check` do all set-up themselves.
# Inside kbuild (M=...), only Kbuild matters; this file drives the host side.

ifneq ($(KERNELRELEASE),)
include $(src)/Kbuild
else

ifneq ($(KDIR),)
# Your own kernel tree (README "Your own kernel tree"): plain kbuild against
# KDIR, a kernel built from patches/; no set-up, no cache.  Pass what the
# tree was built with, e.g. LLVM=1.
.PHONY: all modules modules_install clean rust-analyzer
all: modules
modules modules_install clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $@
# 6.12 runs this target's kbuild step ($(build)=rust) in KDIR: for a tree
# built with O=, VPATH points it at the sources (KDIR/source).
rust-analyzer:
	$(MAKE) -C $(KDIR) M=$(CURDIR) VPATH=$(realpath $(or $(wildcard $(KDIR)/source),$(KDIR))) $@
else

TESTS ?=
# When make started: `make run` reports its wall time, set-up included.
RASYNC_MAKE_T0 := $(shell date +%s)
export RASYNC_MAKE_T0

.PHONY: all setup kernel kernel-debug module module-debug run check bench clean rust-analyzer

all: module

setup:
	bash scripts/setup.sh

kernel: setup
	bash scripts/build-kernel.sh run

kernel-debug: setup
	bash scripts/build-kernel.sh debug

module: setup
	bash scripts/build-module.sh run

module-debug: setup
	CLIPPY=1 bash scripts/build-module.sh debug

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

# rust-project.json for an editor, against the cached run kernel, with the
# LLVM= that kernel was built with.
rust-analyzer: kernel
	$(MAKE) KDIR=$$(bash scripts/build-kernel.sh run) \
		$$(bash -c '. scripts/lib.sh && echo $${KMAKE_VARS[0]}') rust-analyzer

clean:
	rm -rf out
endif
endif
