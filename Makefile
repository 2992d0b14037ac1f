# Every target that needs the environment depends on `setup`, which is idempotent.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.setup-stamp
DEBIAN_PACKAGES := softhsm2 opensc p11-kit dosfstools mtools exfatprogs udev util-linux e2fsprogs iproute2 knot cups cups-filters cups-ipp-utils ghostscript poppler-utils

.PHONY: setup test bench demo clean
.DEFAULT_GOAL := test

# Bytecode for the package, written once here and refreshed whenever a module changed: this
# environment sets PYTHONDONTWRITEBYTECODE, so otherwise every run would compile every module anew.
setup: $(STAMP)
	@$(VENV)/bin/python -m compileall -q appliance

$(STAMP): pyproject.toml Makefile
	@if [ "$$(id -u)" = 0 ]; then \
	  missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "setup: installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  fi; \
	else \
	  echo "setup: not root; make sure these Debian packages are installed: $(DEBIAN_PACKAGES)"; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

test: setup
	$(VENV)/bin/pytest -q

bench: setup
	$(VENV)/bin/python -m tests.bench

demo: setup
	$(VENV)/bin/ceremony demo

clean:
	rm -rf $(VENV) build *.egg-info

# The ceremony DVD (image/, live-build/; docs/dvd.md). Needs root (live-build, chroot).
IMAGE_PACKAGES := live-build debootstrap apt-utils xorriso qemu-system-x86 ovmf diffoscope-minimal genisoimage tesseract-ocr nbdkit nbdkit-plugin-python
.PHONY: image-setup lock image verify-reproducible boot-test boot-test-usb qemu-test fault-test

image-setup: setup
	@missing=$$(for p in $(IMAGE_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "image-setup: installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

lock: image-setup
	$(VENV)/bin/python -m image.lock

image: image-setup
	$(VENV)/bin/python -m image.build

verify-reproducible: image-setup
	$(VENV)/bin/python -m image.reproducible

boot-test: image-setup
	$(VENV)/bin/python -m image.boot_test

# The same checks with the image written to a USB stick instead of a DVD.
boot-test-usb: image-setup
	$(VENV)/bin/python -m image.boot_test --medium usb

# A whole ceremony in the booted DVD, token on the host (docs/qemu-tests.md).
qemu-test: image-setup
	@test -f image/out/ceremony.iso || $(MAKE) image
	$(VENV)/bin/python -m image.qemu_test

# Failing and lying output sticks in the booted DVD, one boot (nbdkit serves the lying one); then
# the HSM's link dropped, one boot (docs/failures.md).
fault-test: image-setup
	@test -f image/out/ceremony.iso || $(MAKE) image
	$(VENV)/bin/python -m image.fault_test
	$(VENV)/bin/python -m image.fault_hsm_test
