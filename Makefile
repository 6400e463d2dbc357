# Krellin's build, test, benchmark and demo entry points.
# Go at /usr/local/go; a Docker engine for test, bench and demo.
GO      ?= go
BIN     := bin
RACE    ?= -race

.PHONY: all build images test unit integration fuzz bench demo clean

all: build

build:
	$(GO) build -o $(BIN)/krellin ./cmd/krellin
	CGO_ENABLED=0 $(GO) build -o $(BIN)/krellin-exec ./cmd/krellin-exec

# Test images are built locally: no registry is needed.
images:
	scripts/build-images.sh all

# The README's test command: unit tests, then integration tests against the
# real engine, real git and the real binaries, all with the race detector.
test: build
	scripts/build-images.sh busybox
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	$(GO) test $(RACE) -count=1 ./...
	$(GO) test $(RACE) -count=1 -tags integration -timeout 40m ./e2e/
	$(MAKE) fuzz

# Each fuzz target runs briefly; the seed corpora in testdata run in unit tests.
FUZZTIME ?= 10s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzApply -fuzztime=$(FUZZTIME) ./patch/
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./notes/
	$(GO) test -run='^$$' -fuzz=FuzzWritePath -fuzztime=$(FUZZTIME) ./actions/
	$(GO) test -run='^$$' -fuzz=FuzzDecodeAction -fuzztime=$(FUZZTIME) ./daemon/

bench: build
	scripts/build-images.sh busybox
	$(GO) run ./scripts/bench

demo: build
	scripts/demo.sh

clean:
	rm -rf $(BIN)
