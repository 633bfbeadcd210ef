# ethos — build and test. `make test` is the one command CI runs.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test fmt build vet bench bench-generate fuzz clean

# go test runs the high-confidence vet checks itself; the full `make vet`
# is left out of `make test` because it compiles every dependency a second
# time (without -race), which doubles the time of a cold build.
test: fmt
	$(GO) test -race -count=1 -timeout 9m ./...

fmt:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

vet: fmt
	$(GO) vet ./...

build:
	$(GO) build -o bin/ethos ./cmd/ethos

# Benchmarks with speed targets; figures go to docs/PERFORMANCE.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./llm/ ./sqlite/

# Whole generation runs (minutes each); run one at a time so each peak RSS
# is its own.
bench-generate:
	$(GO) test -run '^$$' -bench 'GenerateThousand$$' -benchtime 1x ./generate/
	$(GO) test -run '^$$' -bench 'GenerateAt600RPM$$' -benchtime 1x ./generate/
	$(GO) test -run '^$$' -bench 'GenerateTenThousand$$' -benchtime 1x -timeout 60m ./generate/

# Short fuzzing pass over every parser of model output and user files.
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
