# EdgeImage: the two commands of the README's quick start are `make demo` and `make test`.
# Both install what they need first (Debian packages via apt-get, NuGet packages via dotnet restore).

SHELL := /bin/bash
# No MSBuild worker node or compiler server outlives the make that started it: a left-behind server
# keeps the caller's output pipe open (a CI runner waits on it) and holds the build's files.
export MSBUILDDISABLENODEREUSE := 1
export DOTNET_CLI_USE_MSBUILD_SERVER := 0
export UseSharedCompilation := false
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PROFILE ?= generic-x86_64
CONFIG ?= Release
CLI := builder/EdgeImage.Cli/bin/$(CONFIG)/net10.0/edgeimage

# Host tools the builder and its tests call. Keep in sync with builder/EdgeImage/Tools.
# qemu-system-arm, qemu-efi-aarch64 (AAVMF) and u-boot-qemu boot the board images; u-boot-tools
# (mkimage, dumpimage) checks boot.scr in the unit tests.
APT_PACKAGES := apt debian-archive-keyring gpg xz-utils zstd util-linux dpkg-dev mmdebstrap time binutils busybox-static fdisk gdisk cpio kmod squashfs-tools-ng squashfs-tools dosfstools mtools e2fsprogs qemu-system-x86 ovmf qemu-system-arm qemu-efi-aarch64 u-boot-qemu u-boot-tools jq systemd liblzma5 docker-registry skopeo openssl apache2-utils openssh-client

.PHONY: all deps build publish test test-boards unit integration demo bench fmt clean

all: build

deps:
	@command -v dotnet >/dev/null || { echo "error: the .NET 10 SDK (dotnet) is not on PATH"; echo "hint: install it from your distribution or Microsoft's packages, then rerun"; exit 1; }
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	dotnet restore EdgeImage.sln --verbosity quiet

build: deps
	dotnet build EdgeImage.sln -c $(CONFIG) --no-restore --verbosity quiet -nologo

# The CLI for production use: precompiled (ReadyToRun) for this machine's runtime, so a build does
# not spend its first second in the JIT; `out/cli/edgeimage`. make bench measures this form.
publish: deps
	dotnet publish builder/EdgeImage.Cli -c $(CONFIG) --use-current-runtime --self-contained false -p:PublishReadyToRun=true -o out/cli --nologo --verbosity quiet
	@echo "publish: out/cli/edgeimage (ReadyToRun)"

test: build
	tests/run-tests.sh $(CONFIG)

# Only the Arm board boots in QEMU (generic-aarch64 with its join, raspi2b, raspi3b, U-Boot A/B);
# make test runs them too.
test-boards: build
	tests/run-tests.sh $(CONFIG) "Suite=boards"

unit: build
	dotnet test tests/EdgeImage.Tests -c $(CONFIG) --no-build

# The integration tests alone (real packages, image builds, QEMU boots), without the bench measurement.
integration: build
	dotnet test tests/EdgeImage.IntegrationTests -c $(CONFIG) --no-build --filter "Category!=bench"

# Builds the default image, boots it in QEMU until the serial login prompt appears (systemd stops
# printing its own status lines once a getty owns the console), then stops QEMU.
# K0S_FLAGS: --no-k0s by default, because the k0s release lives on GitHub, which this build host may
# not reach; set K0S_FLAGS= (empty) to fetch it, or K0S_FLAGS="--k0s-binary PATH" to use a local one.
K0S_FLAGS ?= --no-k0s
demo: build
	$(CLI) build --profile $(PROFILE) --out out/$(PROFILE) $(K0S_FLAGS)
	$(CLI) qemu out/$(PROFILE)/edge.img --expect "login:" --timeout 600
	@echo "demo: out/$(PROFILE)/edge.img ($(if $(K0S_FLAGS),k0s: $(K0S_FLAGS),with k0s)) booted to its serial login prompt; boot it yourself with: $(CLI) qemu out/$(PROFILE)/edge.img"

bench: build
	bench/run.sh $(CONFIG)

fmt:
	dotnet format EdgeImage.sln

clean:
	rm -rf out builder/*/bin builder/*/obj tests/*/bin tests/*/obj
