# Convenience targets over scripts/ (which do the work and document their variables).
#   make release                              the static release binary in .build-release
#   make install [DESTDIR=...] [PREFIX=...]   see scripts/install --help
#   make systemd-live-test                    the unit under a real systemd (root)
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(SYSCONFDIR)/systemd/system

.PHONY: release install systemd-live-test

release:
	swift build -c release --static-swift-stdlib --scratch-path .build-release

install:
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" SYSCONFDIR="$(SYSCONFDIR)" UNITDIR="$(UNITDIR)" scripts/install

systemd-live-test:
	scripts/systemd-live-test
