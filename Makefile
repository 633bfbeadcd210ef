# ethos — build and test. `make test` is the one command CI runs.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test fmt tidy build vet bench bench-generate fuzz clean vendor-web

# go test runs the high-confidence vet checks itself; the full `make vet`
# is left out of `make test` because it compiles every dependency a second
# time (without -race), which doubles the time of a cold build.
test: fmt tidy
	@# The dashboard's browser tests drive Debian's chromium (CI runs as root).
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	@# The Postgres store's tests start a throwaway server from Debian's
	@# postgresql binaries (internal/pgtest), unless ETHOS_TEST_POSTGRES_URL
	@# names one.
	@test -n "$$ETHOS_TEST_POSTGRES_URL" || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
	  (apt-get update && apt-get install -y postgresql)
	@# Most tests wait on sandbox latencies and child processes rather than
	@# compute, so four run at once per package on two cores (the default
	@# is GOMAXPROCS, two); see docs/PERFORMANCE.md for the times.
	$(GO) test -race -count=1 -parallel 4 -timeout 9m ./...

fmt:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

# go.mod and go.sum must say exactly what the code needs: direct
# dependencies not marked // indirect, nothing missing, nothing left over.
# tidy reads the same modules the build and the tests do, so with their
# module cache warm it needs no network (GOPROXY=off go mod tidy -diff
# passes); on a cold cache it downloads what go test would.
tidy:
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy and commit the result"; exit 1; }

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

# Refresh the dashboard's vendored htmx and uPlot from npm (pinned versions;
# see web/static/vendor/README.md). Needs npm and the network.
HTMX_VERSION ?= 2.0.11
UPLOT_VERSION ?= 1.6.32
vendor-web:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cd "$$tmp" && npm pack --silent htmx.org@$(HTMX_VERSION) uplot@$(UPLOT_VERSION) >/dev/null; \
	mkdir htmx uplot; tar xzf htmx.org-$(HTMX_VERSION).tgz -C htmx; tar xzf uplot-$(UPLOT_VERSION).tgz -C uplot; \
	cd - >/dev/null; v=web/static/vendor; \
	cp "$$tmp/htmx/package/dist/htmx.min.js" $$v/htmx.min.js; cp "$$tmp/htmx/package/LICENSE" $$v/htmx.LICENSE; \
	cp "$$tmp/uplot/package/dist/uPlot.iife.min.js" "$$tmp/uplot/package/dist/uPlot.min.css" $$v/; \
	cp "$$tmp/uplot/package/LICENSE" $$v/uPlot.LICENSE; \
	echo "vendored htmx $(HTMX_VERSION) and uPlot $(UPLOT_VERSION) into $$v"

clean:
	rm -rf bin
