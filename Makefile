# Convenience targets over scripts/ and packaging/ (which do the work and document their variables).
#   make release                              the static release binary in .build-release
#   make deb [CLOSEORDERD_BINARY=...]         closeorderd_<version>_<arch>.deb (packaging/build-deb)
#   make install [DESTDIR=...] [PREFIX=...]   see scripts/install --help
#   make systemd-live-test                    the unit and the package under a real systemd (root)
#
# CLOSEORDERD_BINARY names a release binary built earlier (`make release`; CI builds it once and
# hands it to the live test, the package and the benchmarks); empty means build it here.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system
SCRATCH_PATH ?= .build-release
CLOSEORDERD_BINARY ?=

.PHONY: release deb install systemd-live-test

release:
	swift build -c release --static-swift-stdlib --scratch-path $(SCRATCH_PATH)

deb:
	CLOSEORDERD_BINARY="$(CLOSEORDERD_BINARY)" SCRATCH_PATH="$(SCRATCH_PATH)" packaging/build-deb

install:
	BINARY="$(CLOSEORDERD_BINARY)" SCRATCH_PATH="$(SCRATCH_PATH)" DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" \
	  SYSCONFDIR="$(SYSCONFDIR)" UNITDIR="$(UNITDIR)" scripts/install

systemd-live-test:
	CLOSEORDERD_BINARY="$(CLOSEORDERD_BINARY)" SCRATCH_PATH="$(SCRATCH_PATH)" scripts/systemd-live-test
